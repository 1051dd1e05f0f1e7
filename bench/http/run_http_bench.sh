#!/usr/bin/env bash
# HTTP comparison on loopback: POST /v1/decide on `recrules serve`, on the Node reference server
# and on nginx returning a fixed body (the static ceiling of this machine), under wrk with
# keep-alive and the peers' corpus bodies. The three are measured in turn within every round,
# in a rotating order, and the medians over the rounds are compared.
#
#   bench/http/run_http_bench.sh [--smoke] [BUILD_DIR]        (BUILD_DIR defaults to build)
#   env: PEERS=../shared/peers  ROUNDS=5 DURATION=10 THREADS=2 CONNS=64 BODIES=1000
#        SERVER_THREADS=2  DECISION_LOG=file|/dev/null (file: a rotated file in the run folder)
#        SERVE_ARGS="..." (more `recrules serve` options)
#        BASELINE=<another recrules binary>: measured as a fourth server, "baseline", in the same
#        rotation (e.g. a build of an earlier commit, to see what a change moved);
#        BASELINE_THREADS=<n> runs it with another --threads (BASELINE=build/src/recrules then
#        compares thread counts)
# --smoke: 1 round of 1 s per server, on 1 000 generated tasks; checks that everything runs and
# that no request to recrules failed, and exits non-zero when one did.
#
# Bounded in time: every wrk run is under `timeout`, servers get 10 s to come up, and the
# script stops exactly the processes it started (EXIT trap).
set -euo pipefail
cd "$(dirname "$0")/../.."
SMOKE=0
if [ "${1:-}" = "--smoke" ]; then SMOKE=1; shift; fi
BUILD=${1:-build}
PEERS=${PEERS:-../shared/peers}
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} THREADS=${THREADS:-2} CONNS=${CONNS:-64}
BODIES=${BODIES:-1000} SERVER_THREADS=${SERVER_THREADS:-2} DECISION_LOG=${DECISION_LOG:-file}
CORPUS_N=10000
if [ "$SMOKE" = 1 ]; then ROUNDS=1 DURATION=1 CORPUS_N=1000; fi
RUN=$(mktemp -d "${TMPDIR:-/tmp}/recrules-httpbench.XXXXXX")
. bench/http/bench_lib.sh
bench_init

mkdir -p "$RUN/gen"
node "$PEERS/gen_corpus.js" --n "$CORPUS_N" --out "$RUN/gen" >/dev/null
mv "$RUN/gen/corpus.jsonl" "$RUN/corpus.jsonl"
mkdir -p "$RUN/policy"
cp "$PEERS/policy.json" "$RUN/policy/policy.json"

if [ "$DECISION_LOG" = file ]; then
  LOG_ARGS=(--decision-log "$RUN/decisions.log" --decision-log-max-bytes $((64 << 20))
            --decision-log-keep 1)
else
  LOG_ARGS=(--decision-log "$DECISION_LOG")
fi
# shellcheck disable=SC2206  # SERVE_ARGS is split on purpose
EXTRA=(${SERVE_ARGS:-})

start_nginx;                   NGINX_PID=$PID NGINX_URL=$URL
start_node "$RUN/policy/policy.json"; NODE_PID=$PID NODE_URL=$URL
start_recrules "$RUN/policy" --threads "$SERVER_THREADS" "${LOG_ARGS[@]}" "${EXTRA[@]}"
RR_PID=$PID RR_URL=$URL
TARGETS=(nginx node recrules)
if [ -n "${BASELINE:-}" ]; then
  mkdir -p "$RUN/base/src"
  ln -s "$(realpath "$BASELINE")" "$RUN/base/src/recrules"
  BUILD=$RUN/base start_recrules "$RUN/policy" --threads "${BASELINE_THREADS:-$SERVER_THREADS}" \
    "${LOG_ARGS[@]/decisions.log/baseline-decisions.log}"
  BASE_PID=$PID BASE_URL=$URL
  TARGETS+=(baseline)
fi
url_of() { case $1 in node) echo "$NODE_URL $NODE_PID" ;; recrules) echo "$RR_URL $RR_PID" ;;
                      nginx) echo "$NGINX_URL $NGINX_PID" ;; baseline) echo "$BASE_URL $BASE_PID" ;; esac; }

# The same task must get the same answer from Node and recrules.
first=$(head -1 "$RUN/corpus.jsonl")
post() { curl -s --max-time 5 -X POST -H 'Content-Type: application/json' --data-binary "$first" "$1/v1/decide"; }
echo "sanity node:     $(post "$NODE_URL")"
echo "sanity recrules: $(post "$RR_URL")"

echo "config: wrk -t$THREADS -c$CONNS -d${DURATION}s keep-alive, POST /v1/decide, $BODIES corpus bodies;" \
     "recrules --threads $SERVER_THREADS, decision log $DECISION_LOG; rounds=$ROUNDS nproc=$(nproc)"
echo "load average before: $(load_average)"
# A short warm-up for each (Node's JIT, first-touch allocations), not counted.
WARM=3; [ "$SMOKE" = 1 ] && WARM=1
for t in "${TARGETS[@]}"; do
  read -r u p <<<"$(url_of "$t")"
  run_wrk "warmup_$t" "$p" "$u" "$WARM" corpus.jsonl "$BODIES" >/dev/null
done

RESULTS=$RUN/results.txt
n=${#TARGETS[@]}
for round in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((n - 1))); do
    t=${TARGETS[$(( (round - 1 + k) % n ))]}
    read -r u p <<<"$(url_of "$t")"
    run_wrk "$t" "$p" "$u" "$DURATION" corpus.jsonl "$BODIES" | sed "s/^/round=$round /" | tee -a "$RESULTS"
  done
done
echo "load average after: $(load_average)"
echo "recrules serve: VmRSS $(proc_mem_kb "$RR_PID" VmRSS) KiB, VmHWM $(proc_mem_kb "$RR_PID" VmHWM) KiB"

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    # Server CPU time per answered request: less sensitive than req/s to how much of the
    # shared machine each server happened to get.
    kv["cpu_us"] = float(kv.get("server_cpu_pct", 0)) / 100 * float(kv.get("duration_s", 0)) \
        / max(1, int(kv.get("requests", 0))) * 1e6
    rows.setdefault(kv["target"], []).append(kv)
def med(t, k):
    return statistics.median(float(r.get(k, 0)) for r in rows[t])
names = [t for t in ("recrules", "baseline", "nginx", "node") if t in rows]
failed = {}
print("| server | req/s (median) | p50 ms | p99 ms | server CPU % | server CPU us/request | failed requests (timeouts) |")
print("|---|---|---|---|---|---|---|")
for t in names:
    errs = sum(int(r.get(k, 0)) for r in rows[t] for k in
               ("err_connect", "err_read", "err_write", "err_status", "err_timeout", "wrk_failed"))
    timeouts = sum(int(r.get("err_timeout", 0)) for r in rows[t])
    failed[t] = errs
    print(f"| {t} | {med(t, 'rps'):,.0f} | {med(t, 'p50_us') / 1000:.2f} | {med(t, 'p99_us') / 1000:.2f} "
          f"| {med(t, 'server_cpu_pct'):.0f} | {med(t, 'cpu_us'):.1f} | {errs} ({timeouts}) |")
rr, ng, nd = med("recrules", "rps"), med("nginx", "rps"), med("node", "rps")
# Ratios per round as well: the servers in one round saw about the same load.
per_round = {}
for t in rows:
    for r in rows[t]:
        per_round.setdefault(r["round"], {})[t] = float(r["rps"])
def rounds(a, b):
    return " ".join(f"{v[a] / v[b]:.2f}" for v in per_round.values() if v.get(b))
print(f"recrules/nginx = {rr / ng:.2f} (target >= 0.60; per round: {rounds('recrules', 'nginx')})")
print(f"recrules/node  = {rr / nd:.2f}x (target >= 4x; per round: {rounds('recrules', 'node')})")
print(f"CPU per request: node/recrules = {med('node', 'cpu_us') / med('recrules', 'cpu_us'):.2f}x, "
      f"nginx/recrules = {med('nginx', 'cpu_us') / med('recrules', 'cpu_us'):.2f}")
if "baseline" in rows:
    rb = med("baseline", "rps")
    print(f"recrules/baseline = {rr / rb:.2f} (per round: {rounds('recrules', 'baseline')}); "
          f"baseline/nginx = {rb / ng:.2f}, baseline/node = {rb / nd:.2f}x, CPU per request "
          f"baseline/recrules = {med('baseline', 'cpu_us') / med('recrules', 'cpu_us'):.2f}x")
print("failed requests: " + ", ".join(f"{t} {n}" for t, n in failed.items()))
# Only recrules' own failures fail the run: an overloaded reference timing out is not one.
sys.exit(1 if failed["recrules"] or failed.get("baseline", 0) or rr == 0 else 0)
PY
