#!/usr/bin/env bash
# Builds recrules and runs every test.   Usage: scripts/test.sh [--full]
# (as root on a fresh Debian 12; otherwise run `sudo scripts/install-deps.sh` first)
#
#   1. the normal build (warnings are errors) and the whole suite
# With --full, also:
#   2. the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the concurrency tests (reload hammer, HTTP server) under ThreadSanitizer
#   4. each libFuzzer target for FUZZ_SECONDS (default 10) over the seed corpus
# Build folders: build, build-asan, build-tsan, build-fuzz. On 2 cores --full takes about three
# times as long as step 1, which is why CI runs step 1 for now.
set -euo pipefail
cd "$(dirname "$0")/.."
FULL=0
[ "${1:-}" = "--full" ] && FULL=1
scripts/install-deps.sh
JOBS=$(nproc)
step() { echo; echo "==== $* ($(date -u +%H:%M:%S))"; }

configure() { # DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECRULES_WERROR=ON "$@" >/dev/null
}

step "build and test"
configure build
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600
[ "$FULL" = 1 ] || exit 0

# Sanitizer builds skip the benchmarks; tests that build or install things of their own
# (out-of-tree package builds, npm) carry the label "nosan" and run in step 1 only.
step "AddressSanitizer + UndefinedBehaviorSanitizer"
configure build-asan -DRECRULES_SANITIZE=address,undefined -DRECRULES_BUILD_BENCH=OFF
cmake --build build-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" --timeout 900 -LE nosan

step "ThreadSanitizer (concurrency tests)"
configure build-tsan -DRECRULES_SANITIZE=thread -DRECRULES_BUILD_BENCH=OFF
cmake --build build-tsan -j "$JOBS"
TSAN_OPTIONS=halt_on_error=1 \
  ctest --test-dir build-tsan --output-on-failure -j "$JOBS" --timeout 900 -L concurrency

step "fuzzing, ${FUZZ_SECONDS:-10}s per target"
scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
