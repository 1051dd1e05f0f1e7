#!/usr/bin/env bash
# HTTP library choice: hello-world (GET) and POST /v1/decide on Boost.Beast/Asio and cpp-httplib,
# next to nginx (static ceiling) and a plain Node server, under wrk with keep-alive on 127.0.0.1.
#   PEERS=<folder with gen_corpus.js, node_server.js, nginx.conf, wrk_decide.lua> \
#     bench/http/run_library_choice.sh [BUILD_DIR]
#   env: DURATION=10 THREADS=2 CONNS=64 REPS=3 BODIES=1000 SERVER_THREADS=2 TARGETS="..."
# Every wrk run is bounded by `timeout`; on exit the script kills exactly the PIDs it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
: "${PEERS:?set PEERS to the peer baseline folder}"
DURATION=${DURATION:-10} THREADS=${THREADS:-2} CONNS=${CONNS:-64} REPS=${REPS:-3}
BODIES=${BODIES:-1000} SERVER_THREADS=${SERVER_THREADS:-2}
TARGETS=${TARGETS:-"nginx node beast httplib httplib_ka httplib_nd"}

RUN=$(mktemp -d /tmp/recrules-libchoice.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

node "$PEERS/gen_corpus.js" --out "$RUN" >/dev/null
cp "$PEERS/wrk_decide.lua" "$RUN/"
mkdir -p "$RUN/tmp"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

proc_ticks() { local t=0 p; for p in "$1" $(ps -o pid= --ppid "$1"); do
  [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
HZ=$(getconf CLK_TCK)

run_wrk() { # label pid url [script args...]
  local label=$1 pid=$2 url=$3; shift 3
  local s0 s1 out
  s0=$(proc_ticks "$pid")
  out=$(cd "$RUN" && timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
        -s wrk_decide.lua "$url" -- "$@" | grep '^WRK ' || echo "WRK rps=0 failed=1")
  s1=$(proc_ticks "$pid")
  echo "http target=$label ${out#WRK } server_cpu_pct=$(( (s1 - s0) * 100 / (HZ * DURATION) ))"
}

RESULTS="$RUN/results.txt"
start_target() { # name -> sets PID, URL
  local port; port=$(free_port)
  case $1 in
    nginx)
      sed "s/127.0.0.1:18081/127.0.0.1:$port/" "$PEERS/nginx.conf" >"$RUN/nginx.conf"
      nginx -p "$RUN/" -e "$RUN/error.log" -c "$RUN/nginx.conf" & PID=$! ;;
    node) PORT=$port node "$PEERS/node_server.js" "$RUN/policy.json" >"$RUN/node.log" 2>&1 & PID=$! ;;
    beast) "$BUILD/bench/http/beast_proto" "$port" "$RUN" "$SERVER_THREADS" >/dev/null & PID=$! ;;
    httplib) "$BUILD/bench/http/httplib_proto" "$port" "$RUN" >/dev/null & PID=$! ;;
    # the same, with keep-alive not capped at 5 requests per connection
    httplib_ka) "$BUILD/bench/http/httplib_proto" "$port" "$RUN" 1000000 >/dev/null & PID=$! ;;
    # and with TCP_NODELAY (Nagle + delayed ACK otherwise stall every response about 40 ms)
    httplib_nd) "$BUILD/bench/http/httplib_proto" "$port" "$RUN" 1000000 1 >/dev/null & PID=$! ;;
    recrules) "$BUILD/src/recrules" serve --policy "$RUN" --listen "127.0.0.1:$port" \
                --threads "$SERVER_THREADS" --decision-log /dev/null 2>"$RUN/serve.log" & PID=$! ;;
  esac
  PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  wait_up "$URL/"
}

echo "config: wrk -t$THREADS -c$CONNS -d${DURATION}s bodies=$BODIES server_threads=$SERVER_THREADS nproc=$(nproc)"
for t in $TARGETS; do
  start_target "$t"
  [ "$t" = node ] && (cd "$RUN" && timeout 20 wrk -t1 -c8 -d3s -s wrk_decide.lua "$URL" -- corpus.jsonl "$BODIES" >/dev/null)
  for rep in $(seq "$REPS"); do
    if [ "$t" = recrules ]; then
      run_wrk "${t}_get" "$PID" "$URL/healthz" get | tee -a "$RESULTS"
    else
      run_wrk "${t}_get" "$PID" "$URL/" get | tee -a "$RESULTS"
    fi
    run_wrk "${t}_post" "$PID" "$URL" corpus.jsonl "$BODIES" | tee -a "$RESULTS"
  done
  echo "idle target=$t $(timeout 30 python3 bench/http/idle_keepalive_check.py "${URL##*:}" 16 || echo failed)" | tee -a "$RESULTS"
  kill "$PID"; wait "$PID" 2>/dev/null || true
done

for t in $TARGETS; do for kind in get post; do
  grep " target=${t}_$kind " "$RESULTS" | awk -v t="${t}_$kind" '
    function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x } return a[int((n + 1) / 2)] }
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1], NR] = kv[2] } }
    END { if (NR == 0) exit; for (k = 1; k <= NR; k++) { r[k] = v["rps", k]; p5[k] = v["p50_us", k]; p9[k] = v["p99_us", k]; c[k] = v["server_cpu_pct", k]; e[k] = v["err_status", k] + v["err_read", k] + v["err_connect", k] }
          printf "median target=%s reps=%d rps=%d p50_us=%d p99_us=%d server_cpu_pct=%d errors=%d\n", t, NR, med(r, NR), med(p5, NR), med(p9, NR), med(c, NR), med(e, NR) }'
done; done
grep '^idle ' "$RESULTS"
