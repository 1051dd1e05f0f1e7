#!/usr/bin/env bash
# Hot reload under load: wrk keeps POST /v1/decide busy on `recrules serve` while
# reload_driver.py rewrites the watched policy folder RELOADS times, alternating valid and broken
# policies (JSON cut in the middle, a Lua syntax error, a missing rule file). Reports failed
# requests (wrk's non-2xx answers and socket errors: must be 0), reloads accepted and refused,
# and the time from a file write to decisions carrying the new version (median, max).
#
#   bench/http/run_reload_bench.sh [BUILD_DIR]
#   env: PEERS=../shared/peers  RELOADS=100 THREADS=2 CONNS=64 SERVER_THREADS=2
# Bounded in time: wrk runs under `timeout` (at most MAX_S=300 s) and is stopped as soon as the
# driver is done; the script stops exactly the processes it started. Exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
PEERS=${PEERS:-../shared/peers}
RELOADS=${RELOADS:-100} THREADS=${THREADS:-2} CONNS=${CONNS:-64} SERVER_THREADS=${SERVER_THREADS:-2}
MAX_S=${MAX_S:-300}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/recrules-reload.XXXXXX")
. bench/http/bench_lib.sh
bench_init

mkdir -p "$RUN/gen" "$RUN/policy/rules"
node "$PEERS/gen_corpus.js" --n 1000 --out "$RUN/gen" >/dev/null
mv "$RUN/gen/corpus.jsonl" "$RUN/corpus.jsonl"
head -1 "$RUN/corpus.jsonl" >"$RUN/task.json"
cp "$PEERS/policy.json" "$RUN/policy/policy.json"

start_recrules "$RUN/policy" --threads "$SERVER_THREADS" --decision-log "$RUN/decisions.log" \
  --decision-log-max-bytes $((64 << 20)) --decision-log-keep 1
RR_PID=$PID RR_URL=$URL
echo "config: wrk -t$THREADS -c$CONNS POST /v1/decide during $RELOADS reloads; recrules --threads $SERVER_THREADS; load average $(load_average)"

(cd "$RUN" && exec timeout -k 5 "$MAX_S" wrk -t"$THREADS" -c"$CONNS" -d"${MAX_S}s" \
   -s "$PEERS/wrk_decide.lua" "$RR_URL" -- corpus.jsonl 1000 >"$RUN/wrk.out" 2>&1) & WRK_PID=$!
BENCH_PIDS+=("$WRK_PID")
sleep 1
status=0
timeout -k 5 "$MAX_S" python3 bench/http/reload_driver.py "${RR_URL##*:}" "$RUN/policy" \
  "$RUN/task.json" "$RELOADS" >"$RUN/driver.out" 2>&1 || status=1
# wrk prints its summary (and the WRK line) when interrupted.
kill -INT "$WRK_PID" 2>/dev/null || true
wait "$WRK_PID" 2>/dev/null || true
grep -v '^step ' "$RUN/driver.out" || true
wrk_line=$(grep '^WRK ' "$RUN/wrk.out" || echo "WRK wrk_failed=1")
echo "load: ${wrk_line#WRK }"
metrics=$(curl -s --max-time 5 "$RR_URL/metrics")
echo "server reloads (recrules_policy_reloads_total): $(grep '^recrules_policy_reloads_total' <<<"$metrics" | tr '\n' ' ')"
echo "load average after: $(load_average)"

failed=$(awk '{ n = 0; for (i = 1; i <= NF; i++) { split($i, kv, "=");
  if (kv[1] ~ /^(err_|wrk_failed)/) n += kv[2] } print n }' <<<"$wrk_line")
echo "failed requests under load: $failed"
[ "$failed" = 0 ] || status=1
[ "$status" = 0 ] || { echo "reload bench FAILED (driver log: see above)" >&2; tail -5 "$RUN/driver.out" >&2; }
exit "$status"
