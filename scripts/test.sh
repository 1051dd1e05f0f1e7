#!/usr/bin/env bash
# Builds recrules and runs every test. Usage: scripts/test.sh   (as root on a fresh Debian 12)
#   BUILD_DIR=build  where to build (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECRULES_WERROR=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 600
