#!/usr/bin/env bash
# Resident memory of `recrules serve`: idle, under wrk load on POST /v1/decide, and idle again
# after the load, for the peers policy (built-in exclusions only) and for a generated policy of
# 100 Lua rules that read attributes (written into a temporary policy folder); then the peers
# policy with Twilio configured, remembering the tasks of known calls and not, and with them
# kept in a state file.
#
#   bench/http/run_memory_bench.sh [BUILD_DIR]
#   env: PEERS=../shared/peers  DURATION=10 THREADS=2 CONNS=64 SERVER_THREADS=2 RULES=100
# Reads VmRSS (sampled every 0.5 s under load) and VmHWM (the peak) from /proc/PID/status.
# Bounded in time (wrk under `timeout`); stops exactly the processes it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
PEERS=${PEERS:-../shared/peers}
DURATION=${DURATION:-10} THREADS=${THREADS:-2} CONNS=${CONNS:-64} SERVER_THREADS=${SERVER_THREADS:-2}
RULES=${RULES:-100}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/recrules-memory.XXXXXX")
. bench/http/bench_lib.sh
bench_init

mkdir -p "$RUN/gen" "$RUN/builtin" "$RUN/lua/rules"
node "$PEERS/gen_corpus.js" --n 10000 --out "$RUN/gen" >/dev/null
mv "$RUN/gen/corpus.jsonl" "$RUN/corpus.jsonl"
cp "$PEERS/policy.json" "$RUN/builtin/policy.json"

# RULES Lua rules in four shapes an admin writes: a queue, an attribute match with a second
# condition, a nested attribute pair, an array membership. None matches the corpus, so every
# decision consults all of them (the most work a policy of this size can cost).
python3 - "$RUN/lua" "$PEERS/policy.json" "$RULES" <<'PY'
import json, os, sys
folder, peers_policy, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
shapes = [
    """return {{
  name = "queue_{i}",
  decide = function(task, ctx)
    if task.queueName == "Escalations {i}" then
      return recrules.skip{{ reason = "queue Escalations {i} is never recorded" }}
    end
  end,
}}
""",
    """return {{
  name = "segment_{i}",
  decide = function(task, ctx)
    local a = task.attributes
    if recrules.matches(a, "customer.account.segment", "segment-{i}") and a.direction == "inbound" then
      return recrules.skip{{ reason = "segment-{i} inbound calls are not recorded" }}
    end
  end,
}}
""",
    """return {{
  name = "tier_path_{i}",
  decide = function(task, ctx)
    local c = task.attributes.customer
    if c and c.tier == "tier-{i}" and recrules.get(task.attributes, "ivr.path") == "main>care>{i}" then
      return recrules.record{{ reason = "tier-{i} care calls are always recorded" }}
    end
  end,
}}
""",
    """return {{
  name = "tag_{i}",
  decide = function(task, ctx)
    if recrules.matches(task.attributes, "tags", "campaign-{i}") then
      return recrules.skip{{ reason = "campaign-{i} calls are not recorded" }}
    end
  end,
}}
""",
]
rules = []
for i in range(n):
    name = "rules/r%03d.lua" % i
    with open(os.path.join(folder, name), "w") as f:
        f.write(shapes[i % len(shapes)].format(i=i))
    rules.append(name)
policy = json.load(open(peers_policy))
policy["recrules"] = {"rules": ["builtin:exclusions"] + rules, "default": "record"}
json.dump(policy, open(os.path.join(folder, "policy.json"), "w"), indent=2)
PY

measure() { # label policy_folder [extra serve options]
  local label=$1 policy=$2
  start_recrules "$policy" --threads "$SERVER_THREADS" --decision-log "$RUN/decisions.log" \
    --decision-log-max-bytes $((64 << 20)) --decision-log-keep 1 "${@:3}"
  local pid=$PID url=$URL
  # One request on each I/O thread's first connection would not reach every thread; a short
  # burst does, so "idle" is after the per-thread policy state exists.
  run_wrk warm "$pid" "$url" 1 corpus.jsonl 100 >/dev/null
  sleep 1
  local idle; idle=$(proc_mem_kb "$pid" VmRSS)
  local peak=0 s
  run_wrk "$label" "$pid" "$url" "$DURATION" corpus.jsonl 10000 >"$RUN/load.txt" &
  local wrk_job=$!
  while kill -0 "$wrk_job" 2>/dev/null; do
    s=$(proc_mem_kb "$pid" VmRSS); [ "$s" -gt "$peak" ] && peak=$s
    sleep 0.5
  done
  wait "$wrk_job" || true
  sleep 1
  local after hwm
  after=$(proc_mem_kb "$pid" VmRSS); hwm=$(proc_mem_kb "$pid" VmHWM)
  local line; line=$(cat "$RUN/load.txt")
  echo "memory policy=$label idle_rss_kib=$idle load_rss_max_kib=$peak after_load_rss_kib=$after hwm_kib=$hwm" \
       "$(grep -o 'rps=[0-9]*' <<<"$line") $(grep -o 'err_status=[0-9]*' <<<"$line")"
  bench_stop "$pid"
}

echo "config: wrk -t$THREADS -c$CONNS -d${DURATION}s POST /v1/decide (10 000 distinct tasks);" \
     "recrules --threads $SERVER_THREADS; load average $(load_average)"
measure builtin_only "$RUN/builtin"
measure "lua_${RULES}_rules" "$RUN/lua"
# With Twilio credentials, /v1/decide keeps each task it decides on, by call and conference SID,
# so that the Flex recording endpoints can ask the policy (--known-calls, default 10 000 SIDs).
# The corpus' 10 000 tasks have distinct call SIDs, so the bound is reached. Nothing calls
# Twilio here: the API URL is a closed local port.
# With Twilio configured, callers need a token: a static one, sent by wrk_decide_token.lua.
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=bench \
  RECRULES_TWILIO_API_URL=http://127.0.0.1:9 RECRULES_TWILIO_IAM_URL=http://127.0.0.1:9 \
  RECRULES_TWILIO_TASKROUTER_URL=http://127.0.0.1:9 \
  RECRULES_API_TOKENS=bench-token RECRULES_BENCH_TOKEN=bench-token \
  WRK_SCRIPT=$PWD/bench/http/wrk_decide_token.lua
measure builtin_twilio_known_calls_10000 "$RUN/builtin" --known-calls 10000
measure builtin_twilio_known_calls_0 "$RUN/builtin" --known-calls 0
# The same calls also written to a state file (--state-file), so that they outlive a restart.
measure builtin_twilio_known_calls_10000_state_file "$RUN/builtin" --known-calls 10000 \
  --state-file "$RUN/calls.jsonl"
echo "state file after the run: $(stat -c %s "$RUN/calls.jsonl") bytes," \
     "$(wc -l <"$RUN/calls.jsonl") lines"
echo "load average after: $(load_average)"
