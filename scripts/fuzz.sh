#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
# The build is scripts/test.sh's ASan build (build-asan/, or BUILD_DIR), so after the test
# command it is already there. New inputs found go to BUILD_DIR/corpus/<target>/ (the repo's
# seeds in fuzz/corpus/ are read, never written). A crash leaves its input in BUILD_DIR/ and
# fails the script; copy it to fuzz/regressions/<target>/ with the fix, and the test
# fuzz_<target>_inputs replays it in every build from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build-config.sh
SECONDS_PER_TARGET=${1:-60}
shift || true
BUILD=${BUILD_DIR:-build-asan}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(request form policy decide policy_data http)  # fuzz/CMakeLists.txt
fi
configure_asan "$BUILD"
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"
status=0
seeds=$PWD/fuzz/corpus
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  echo "== fuzz_$t for ${SECONDS_PER_TARGET}s"
  # -rss_limit_mb: the targets hold a policy and (http) a server; ASan's quarantine adds more.
  if ! (cd "$BUILD" && "./fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 \
        -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 "corpus/$t" "$seeds/$t" \
        2>"fuzz_$t.log"); then
    status=1
    tail -40 "$BUILD/fuzz_$t.log"
  fi
  # The last coverage line (cov: edges, ft: features, corp: corpus) and the totals.
  grep -E "^#[0-9]+.*cov: " "$BUILD/fuzz_$t.log" | tail -1 || true
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$BUILD/fuzz_$t.log" || true
done
exit $status
