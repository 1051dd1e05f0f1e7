#!/usr/bin/env bash
# Builds recrules and runs every test: the README's test command, and what CI runs.
#   scripts/test.sh            all four steps below (15 min 37 s measured on an idle 2-core machine)
#   scripts/test.sh --quick    step 1 only (a developer's inner loop)
# (as root on a fresh Debian 12; otherwise run `sudo scripts/install-deps.sh` first)
#
#   1. build/       the normal build (gcc, Release, warnings are errors) and the whole suite
#   2. build-asan/  the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#                   (clang, -O1; tests labelled "nosan" excepted). The same build holds the
#                   libFuzzer targets, so step 4 needs no build of its own.
#   3. build-tsan/  the tests labelled "concurrency" under ThreadSanitizer (clang, -O1); only
#                   the targets those tests run are built
#   4. each libFuzzer target for FUZZ_SECONDS (default 15) over its seed corpus (scripts/fuzz.sh)
# New tests join steps 2 and 3 by label (tests/CMakeLists.txt), never by name. A test that runs
# another binary of the build must depend on it (add_dependencies) so that step 3 builds it.
# Environment: JOBS (default: nproc), FUZZ_SECONDS. A summary of each step's wall and CPU time
# is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build-config.sh
QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  --full | "") ;;  # --full: the default since issue 7; kept for old habits
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
scripts/install-deps.sh
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}

summary=()
step_name=""
step_start=0
step_cpu=0
times_file=$(mktemp)
cpu_now=0
read_cpu() { # cpu_now = user+sys CPU seconds of this shell's finished children so far
  times >"$times_file"  # `times` must run in this shell: in a subshell it reports the subshell
  cpu_now=$(tail -1 "$times_file" | awk '{ for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } } END { printf "%.0f", s }')
}
finish_step() {
  [ -n "$step_name" ] || return 0
  read_cpu
  summary+=("$(printf '%-58s %5ss wall %6ss cpu' "$step_name" $((SECONDS - step_start)) \
    $((cpu_now - step_cpu)))")
  step_name=""
}
step() {
  finish_step
  step_name=$*
  step_start=$SECONDS
  read_cpu
  step_cpu=$cpu_now
  echo
  echo "==== $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
}
report() {
  finish_step
  read_cpu
  echo
  echo "==== steps (wall and user+sys CPU seconds; load $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '%s\n' "${summary[@]}"
  echo "total ${SECONDS}s wall, ${cpu_now}s cpu"
  rm -f "$times_file"
}
trap report EXIT

step "1. build"
configure_normal build
cmake --build build -j "$JOBS"
step "1. tests"
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600
[ "$QUICK" = 1 ] && exit 0

step "2. build: AddressSanitizer + UBSan (+ libFuzzer targets)"
configure_asan build-asan
cmake --build build-asan -j "$JOBS"
step "2. tests under ASan + UBSan (all but nosan)"
asan_env ctest --test-dir build-asan --output-on-failure -j "$JOBS" --timeout 900 -LE nosan

step "3. build: ThreadSanitizer (targets of concurrency tests)"
configure_tsan build-tsan
mapfile -t tsan_targets < <(targets_of_tests build-tsan -L concurrency)
echo "targets: ${tsan_targets[*]}"
[ ${#tsan_targets[@]} -gt 0 ] || { echo "no concurrency test found" >&2; exit 1; }
cmake --build build-tsan -j "$JOBS" --target "${tsan_targets[@]}"
step "3. concurrency tests under TSan"
tsan_env ctest --test-dir build-tsan --output-on-failure -j "$JOBS" --timeout 900 -L concurrency

step "4. fuzzing, ${FUZZ_SECONDS}s per target"
BUILD_DIR=build-asan scripts/fuzz.sh "$FUZZ_SECONDS"
