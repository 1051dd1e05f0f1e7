# Shared by the HTTP benchmark scripts in this folder (sourced, not run).
# The caller sets RUN (a temporary folder), PEERS (the peer baseline folder) and BUILD, and
# calls bench_init first. bench_init exits 77 (a skip for ctest) when a tool or the peers folder
# is missing. Every server started here is remembered by PID and stopped by
# bench_cleanup (installed as the EXIT trap): the scripts never kill anything they did not start.

BENCH_PIDS=()

bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do bench_reap "$p"; done
  [ -n "${RUN:-}" ] && [ -d "$RUN" ] && [ -z "${KEEP_RUN:-}" ] && rm -rf "$RUN"
  return 0
}

# Waits up to 5 s for a process we signalled to exit, then kills it.
bench_reap() {
  local p=$1 i
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

bench_stop() { # pid
  kill "$1" 2>/dev/null || true
  bench_reap "$1"
}

bench_init() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  local tool
  for tool in wrk nginx node curl python3 timeout; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool (scripts/install-deps.sh)" >&2; exit 77; }
  done
  [ -f "$PEERS/node_server.js" ] || { echo "no peers folder at '$PEERS' (set PEERS)" >&2; exit 77; }
  [ -x "$BUILD/src/recrules" ] || { echo "build $BUILD/src/recrules first" >&2; exit 2; }
  mkdir -p "$RUN/tmp"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Polls a URL until it answers (any HTTP status), at most 10 s.
wait_up() {
  local i
  for i in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  echo "not up after 10 s: $1" >&2
  return 1
}

# Each start_* sets PID and URL and leaves the server running.
start_nginx() {
  local port; port=$(free_port)
  sed "s/127.0.0.1:18081/127.0.0.1:$port/" "$PEERS/nginx.conf" >"$RUN/nginx.conf"
  nginx -p "$RUN/" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf" & PID=$!
  BENCH_PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  wait_up "$URL/"
}

start_node() { # policy.json
  local port; port=$(free_port)
  PORT=$port node "$PEERS/node_server.js" "$1" >"$RUN/node.log" 2>&1 & PID=$!
  BENCH_PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  wait_up "$URL/"
}

start_recrules() { # policy folder, then extra serve options
  local policy=$1; shift
  local port; port=$(free_port)
  "$BUILD/src/recrules" serve --policy "$policy" --listen "127.0.0.1:$port" \
    --shutdown-grace-ms 1000 "$@" 2>>"$RUN/serve.log" & PID=$!
  BENCH_PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  wait_up "$URL/healthz"
}

# CPU ticks (utime+stime) of a process and its direct children.
proc_ticks() {
  local t=0 p
  for p in "$1" $(ps -o pid= --ppid "$1"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}

# VmRSS or VmHWM of a process in KiB.
proc_mem_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# run_wrk LABEL PID URL DURATION [wrk_decide.lua args...]: one line "http target=LABEL rps=...".
# wrk runs in $RUN (the corpus is there), bounded by `timeout`. WRK_SCRIPT (an absolute path)
# replaces the peers' wrk_decide.lua.
run_wrk() {
  local label=$1 pid=$2 url=$3 duration=$4; shift 4
  local s0 s1 out hz
  hz=$(getconf CLK_TCK)
  s0=$(proc_ticks "$pid")
  out=$(cd "$RUN" && timeout -k 5 $((duration + 30)) wrk -t"${THREADS:-2}" -c"${CONNS:-64}" \
          -d"${duration}s" -s "${WRK_SCRIPT:-$PEERS/wrk_decide.lua}" "$url" -- "$@" | grep '^WRK ' ||
        echo "WRK rps=0 wrk_failed=1")
  s1=$(proc_ticks "$pid")
  echo "http target=$label ${out#WRK } server_cpu_pct=$(( (s1 - s0) * 100 / (hz * duration) ))"
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
