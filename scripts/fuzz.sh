#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60; CI uses a short run)
# New inputs found go to build-fuzz/corpus/<target>/ (the repo's seeds in fuzz/corpus/ are
# read, never written). A crash leaves its input in build-fuzz/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
BUILD=${BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRECRULES_FUZZ=ON -DRECRULES_SANITIZE=address,undefined -DRECRULES_BUILD_TESTS=OFF \
  -DRECRULES_BUILD_BENCH=OFF -DRECRULES_WERROR=OFF >/dev/null
targets=(request form policy)
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  echo "== fuzz_$t for ${SECONDS_PER_TARGET}s"
  if ! (cd "$BUILD" && "./fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "corpus/$t" "../fuzz/corpus/$t" \
        2>"fuzz_$t.log"); then
    status=1
    tail -40 "$BUILD/fuzz_$t.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::new_units_added|cov: " "$BUILD/fuzz_$t.log" | tail -3
done
exit $status
