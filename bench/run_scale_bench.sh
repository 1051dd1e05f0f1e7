#!/usr/bin/env bash
# How a decision's cost grows with the policy and the task: runs bench_scale and plots it.
#   bench/run_scale_bench.sh [BUILD_DIR]      env: REPS=5 MIN_TIME=0.2 OUT=docs
# Writes OUT/scale.json (Google Benchmark's own JSON, medians of REPS repetitions) and
# OUT/scale.png (drawn from that JSON by bench/plot_scale.py with gnuplot), and prints the
# Markdown table of medians. One thread; about 2 to 3 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPS=${REPS:-5}
MIN_TIME=${MIN_TIME:-0.2}
OUT=${OUT:-docs}
BENCH=$BUILD/bench/bench_scale
[ -x "$BENCH" ] || { echo "build $BENCH first (cmake --build $BUILD --target bench_scale)" >&2; exit 2; }
command -v gnuplot >/dev/null || scripts/install-deps.sh --bench

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BENCH" --benchmark_format=json --benchmark_repetitions="$REPS" \
  --benchmark_report_aggregates_only=true --benchmark_min_time="$MIN_TIME" >"$OUT/scale.json.tmp"
mv "$OUT/scale.json.tmp" "$OUT/scale.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/plot_scale.py "$OUT/scale.json" "$OUT/scale.png"
