#!/usr/bin/env bash
# Instructions per request of `recrules serve` on POST /v1/decide, under callgrind: a count that
# does not depend on how busy the machine is, for before/after comparisons of the server path.
#
#   bench/http/profile_serve.sh [BUILD_DIR]
#   env: PEERS=../shared/peers  DURATION=15 CONNS=8  DECISION_LOG=file|/dev/null
#        SERVE_ARGS="..."  OUT=<folder to keep callgrind.out in> (default: discarded)
# Collection is switched on only while wrk runs (start-up and the policy load are not counted),
# and the total is divided by the requests wrk saw answered. Prints one line:
#   callgrind instructions=... requests=... instructions_per_request=...
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
PEERS=${PEERS:-../shared/peers}
DURATION=${DURATION:-15} CONNS=${CONNS:-8} THREADS=1 DECISION_LOG=${DECISION_LOG:-file}
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "needs valgrind (callgrind)" >&2; exit 2; }
RUN=$(mktemp -d "${TMPDIR:-/tmp}/recrules-profile.XXXXXX")
. bench/http/bench_lib.sh
bench_init

mkdir -p "$RUN/gen" "$RUN/policy"
node "$PEERS/gen_corpus.js" --n 1000 --out "$RUN/gen" >/dev/null
mv "$RUN/gen/corpus.jsonl" "$RUN/corpus.jsonl"
cp "$PEERS/policy.json" "$RUN/policy/policy.json"
if [ "$DECISION_LOG" = file ]; then LOG=$RUN/decisions.log; else LOG=$DECISION_LOG; fi
# shellcheck disable=SC2206
EXTRA=(${SERVE_ARGS:-})

port=$(free_port)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$RUN/callgrind.out" \
  "$BUILD/src/recrules" serve --policy "$RUN/policy" --listen "127.0.0.1:$port" \
  --decision-log "$LOG" --shutdown-grace-ms 1000 "${EXTRA[@]}" 2>"$RUN/serve.log" & PID=$!
BENCH_PIDS+=("$PID")
URL="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -s -o /dev/null --max-time 1 "$URL/healthz" && break; sleep 0.1; done
curl -s -o /dev/null --max-time 5 "$URL/healthz" || { echo "recrules serve did not come up" >&2; exit 1; }

timeout 30 callgrind_control -i on "$PID" >/dev/null
out=$(run_wrk recrules "$PID" "$URL" "$DURATION" corpus.jsonl 1000)
timeout 30 callgrind_control -i off "$PID" >/dev/null
kill "$PID"
bench_reap "$PID"
requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")
instr=$(awk '/^totals:/ {print $2}' "$RUN/callgrind.out"*)
[ -n "${OUT:-}" ] && cp "$RUN"/callgrind.out* "$OUT"/
echo "callgrind instructions=$instr requests=$requests instructions_per_request=$((instr / requests))"
