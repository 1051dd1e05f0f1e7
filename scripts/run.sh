#!/usr/bin/env bash
# Builds recrules and runs it on the example policy.
# Usage: scripts/run.sh   (as root on a fresh Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target recrules
"$BUILD_DIR/src/recrules" check examples/policy
for t in examples/tasks/*.json; do
  echo "== $t"
  "$BUILD_DIR/src/recrules" decide --policy examples/policy "$t"
done
