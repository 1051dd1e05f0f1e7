#!/usr/bin/env bash
# Builds recrules and serves the example policy on 127.0.0.1:8080 (foreground; Ctrl-C stops it).
# Usage: scripts/run.sh   (as root on a fresh Debian 12)
#   LISTEN=127.0.0.1:8080  POLICY=examples/policy  BUILD_DIR=build
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
LISTEN=${LISTEN:-127.0.0.1:8080}
POLICY=${POLICY:-examples/policy}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target recrules
"$BUILD_DIR/src/recrules" check "$POLICY"
echo "try: curl -s -X POST http://$LISTEN/v1/decide --data-binary @examples/tasks/inbound_sales.json"
exec "$BUILD_DIR/src/recrules" serve --policy "$POLICY" --listen "$LISTEN"
