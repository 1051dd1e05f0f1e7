#!/usr/bin/env bash
# Bounded soak of `recrules serve` on loopback: wrk keeps POST /v1/decide busy (keep-alive,
# corpus-like bodies) for DURATION seconds while reloads (valid and broken policy writes,
# SIGHUP, POST /v1/admin/reload) and bad requests (malformed JSON, oversized bodies, wrong
# methods, unknown paths) are mixed in, and VmRSS is sampled. At the end it checks:
#   1. no failed valid request: wrk saw only 200s, and no socket error;
#   2. no lost decision log line: every decision id a client received is in the decision log
#      (read after SIGTERM has flushed it), and the log holds no decision beyond those plus the
#      ones in flight when wrk stopped (at most one per connection);
#   3. memory flat: after the warm-up, the median RSS of the last third of the samples is within
#      max(8 MiB, 10 %) of the median of the first third;
#   4. every bad request got its error status, every broken policy was refused, and the server
#      still runs the last valid policy.
# It prints the figures and exits 0 when all hold, 1 when one does not, 77 when wrk is missing.
#
# --twilio runs the server against the fake Twilio (tests/fake_twilio) with credentials, so every
# decided call is remembered (--known-calls) and callers need a token; the loop then also
# creates and pauses recordings through the Flex template endpoints on calls the load decided
# on, which the policy may refuse (each answer must be 200 or 409).
#
#   tests/soak/soak.sh [--recrules PATH] [--duration SECONDS] [--connections N] [--threads N]
#                      [--corpus FILE.jsonl] [--warmup SECONDS] [--twilio] [--keep]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
recrules="$src/build/src/recrules"
duration=180
connections=16
wrk_threads=2
corpus=""
warmup=""
keep=0
twilio=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --recrules) recrules="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) wrk_threads="$2"; shift 2 ;;
    --corpus) corpus="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --twilio) twilio=1; shift ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "soak: wrk not found (scripts/install-deps.sh installs it)"; exit 77; }
[[ -x "$recrules" ]] || { echo "soak: $recrules is not executable (--recrules PATH)" >&2; exit 2; }
# Warm-up: the first 30 s, or a fifth of a short run.
if [[ -z "$warmup" ]]; then warmup=$(( duration >= 150 ? 30 : duration / 5 )); fi

work="$(mktemp -d "${TMPDIR:-/tmp}/recrules-soak-XXXXXX")"
serve_pid=""
wrk_pid=""
fake_pid=""
cleanup() {
  [[ -n "$wrk_pid" ]] && kill "$wrk_pid" 2>/dev/null || true
  [[ -n "$serve_pid" ]] && kill -9 "$serve_pid" 2>/dev/null || true
  [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null || true
  if [[ $keep -eq 1 ]]; then echo "soak: files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The example policy, in a folder the soak may rewrite.
cp -rL "$src/examples/policy" "$work/policy"  # -L: its rules/ links to the rule library
cp "$work/policy/policy.json" "$work/policy.json.valid"

# Bodies: the example tasks (one per line), plus the corpus when given.
: > "$work/bodies.jsonl"
for f in "$src"/examples/tasks/*.json; do
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$f" >> "$work/bodies.jsonl"
done
if [[ -n "$corpus" && -f "$corpus" ]]; then head -n 2000 "$corpus" >> "$work/bodies.jsonl"; fi
bodies=$(wc -l < "$work/bodies.jsonl")

auth=()  # curl options: a token, when the server requires one
if [[ $twilio -eq 1 ]]; then
  node "$src/tests/fake_twilio/fake_twilio.js" --port 0 > "$work/fake.out" 2> "$work/fake.err" &
  fake_pid=$!
  fake_url=""
  for _ in $(seq 1 200); do
    fake_url=$(grep -o 'listening 127.0.0.1:[0-9]*' "$work/fake.out" 2>/dev/null | sed 's/listening /http:\/\//' || true)
    [[ -n "$fake_url" ]] && break
    sleep 0.05
  done
  [[ -n "$fake_url" ]] || { echo "soak: the fake Twilio did not start" >&2; cat "$work/fake.err" >&2; exit 1; }
  export TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa TWILIO_AUTH_TOKEN=fake-auth-token \
    RECRULES_TWILIO_API_URL="$fake_url" RECRULES_TWILIO_IAM_URL="$fake_url" \
    RECRULES_TWILIO_TASKROUTER_URL="$fake_url" RECRULES_API_TOKENS=soak-token SOAK_TOKEN=soak-token
  auth=(-H "Authorization: Bearer soak-token")
  # Call SIDs of the bodies: the load decides on them, so the server knows them.
  python3 - "$work/bodies.jsonl" > "$work/calls" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    t = r.get("task", r)
    a = t.get("attributes")
    a = json.loads(a) if isinstance(a, str) else a
    if isinstance(a, dict) and isinstance(a.get("call_sid"), str) and len(a["call_sid"]) == 34:
        print(a["call_sid"])
PY
  [[ -s "$work/calls" ]] || { echo "soak: no call SIDs in the bodies" >&2; exit 1; }
fi
flex_sent=0
flex_granted=0
flex_refused=0

log="$work/decisions.jsonl"
"$recrules" serve --policy "$work/policy" --listen 127.0.0.1:0 --decision-log "$log" \
  --decision-log-max-bytes 0 --threads 2 2> "$work/serve.stderr" > /dev/null &
serve_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(grep -o 'listening on [^ ]*:[0-9]*' "$work/serve.stderr" 2>/dev/null | grep -o '[0-9]*$' || true)
  [[ -n "$port" ]] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.stderr" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$port" ]] || { echo "soak: serve did not start" >&2; exit 1; }
base="http://127.0.0.1:$port"
echo "soak: recrules serve pid $serve_pid on $base; ${duration}s, wrk -t$wrk_threads -c$connections, $bodies bodies"

wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --timeout 10s -s "$here/soak_wrk.lua" \
  "$base" -- "$work/bodies.jsonl" "$work/ids" > "$work/wrk.out" 2>&1 &
wrk_pid=$!

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status"; }
: > "$work/rss.tsv"
bad_failures=0
bad_sent=0
reloads_ok=0
reloads_refused=0
# One bad request: expect its status.
bad() {
  local want="$1"; shift
  local got
  got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" "$@") || true  # 000: no answer
  bad_sent=$((bad_sent + 1))
  if [[ "$got" != "$want" ]]; then
    bad_failures=$((bad_failures + 1))
    echo "soak: bad request $* answered $got, expected $want" >&2
  fi
}
head -c 2000000 /dev/zero | tr '\0' ' ' > "$work/big.json"
start=$(date +%s)
step=0
while kill -0 "$wrk_pid" 2>/dev/null; do
  now=$(date +%s)
  echo -e "$((now - start))\t$(rss)" >> "$work/rss.tsv"
  case $((step % 6)) in
    0) # A valid policy change: a new description, hence a new version (the watcher reloads).
      python3 - "$work/policy.json.valid" "$work/policy/policy.json.tmp" "$step" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["recrules"]["description"] = "soak step " + sys.argv[3]
json.dump(p, open(sys.argv[2], "w"), indent=2)
PY
      mv "$work/policy/policy.json.tmp" "$work/policy/policy.json" ;;
    1) # A broken write, left in place for a moment, then a POST reload that must refuse it.
      printf '{"recrules": {"rules": [' > "$work/policy/policy.json"
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${auth[@]}" -X POST "$base/v1/admin/reload" || echo 000)
      if [[ "$code" == 422 ]]; then reloads_refused=$((reloads_refused + 1)); else
        echo "soak: reload of a broken policy answered $code" >&2; bad_failures=$((bad_failures + 1)); fi
      cp "$work/policy.json.valid" "$work/policy/policy.json" ;;
    2) kill -HUP "$serve_pid" ;;
    3) code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${auth[@]}" -X POST "$base/v1/admin/reload" || echo 000)
      if [[ "$code" == 200 ]]; then reloads_ok=$((reloads_ok + 1)); else
        echo "soak: reload answered $code" >&2; bad_failures=$((bad_failures + 1)); fi ;;
    4) bad 400 -X POST -H 'Content-Type: application/json' --data '{"task": {"attributes": ' "$base/v1/decide"
      bad 400 -X POST -H 'Content-Type: application/json' --data '[1,2' "$base/v1/decide"
      bad 413 -X POST -H 'Content-Type: application/json' -H 'Expect:' --data-binary "@$work/big.json" "$base/v1/decide"
      bad 413 -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$work/big.json" "$base/v1/decide" ;;
    5) bad 405 -X GET "$base/v1/decide"
      bad 405 -X DELETE "$base/v1/decide"
      bad 404 -X POST --data '{}' "$base/v1/nope"
      bad 404 "$base/../../etc/passwd" --path-as-is
      if [[ $twilio -eq 1 ]]; then
        # A known call: create its recording, then pause it; the policy answers first.
        call=$(sed -n "$(( (step / 6) % $(wc -l < "$work/calls") + 1 ))p" "$work/calls")
        for op in dual-channel-recording/flex/create-recording pause-recording/flex/pause-call-recording; do
          code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${auth[@]}" -X POST \
                   --data-urlencode "callSid=$call" "$base/features/$op" || echo 000)
          flex_sent=$((flex_sent + 1))
          case "$code" in
            200) flex_granted=$((flex_granted + 1)) ;;
            409) flex_refused=$((flex_refused + 1)) ;;
            *) echo "soak: $op on $call answered $code" >&2; bad_failures=$((bad_failures + 1)) ;;
          esac
        done
      fi ;;
  esac
  step=$((step + 1))
  sleep 2
done
wait "$wrk_pid" || true
wrk_pid=""
echo -e "$(( $(date +%s) - start ))\t$(rss)" >> "$work/rss.tsv"
version=$(curl -s --max-time 10 "$base/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"])')

kill -TERM "$serve_pid"
serve_rc=0
wait "$serve_pid" || serve_rc=$?
serve_pid=""

python3 - "$work" "$warmup" "$connections" "$bad_sent" "$bad_failures" "$reloads_ok" \
  "$reloads_refused" "$serve_rc" "$version" "$twilio" "$flex_sent" "$flex_granted" \
  "$flex_refused" <<'PY'
import glob, json, re, statistics, sys
work, warmup, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad_sent, bad_failures, reloads_ok, reloads_refused, serve_rc = map(int, sys.argv[4:9])
version = sys.argv[9]
twilio, flex_sent, flex_granted, flex_refused = map(int, sys.argv[10:14])
failures = []

wrk_out = open(work + "/wrk.out").read()
m = re.search(r"soak-wrk: ok=(\d+) non2xx=(\d+) errors=(\d+)(.*)", wrk_out)
if not m:
    print(wrk_out)
    sys.exit("soak: no wrk summary")
ok, non2xx, errors = int(m.group(1)), int(m.group(2)), int(m.group(3))
rps = re.search(r"Requests/sec:\s*([\d.]+)", wrk_out)
print("wrk: %d decisions answered 200, %d other statuses, %d socket errors, %s req/s;%s"
      % (ok, non2xx, errors, rps.group(1) if rps else "?", m.group(4)))
if non2xx or errors:
    failures.append("failed valid requests: %d non-2xx, %d socket errors" % (non2xx, errors))

ids = []
for f in glob.glob(work + "/ids.*"):
    ids += [l.strip() for l in open(f) if l.strip()]
logged = set()  # ids only: a long soak logs tens of millions of decisions
log_lines = 0
for line in open(work + "/decisions.jsonl"):
    log_lines += 1
    d = json.loads(line)
    if d.get("type") == "decision" and d.get("source") == "api":  # not the Flex requests'
        logged.add(d["id"])
missing = [i for i in ids if i not in logged]
extra = len(logged) - (len(ids) - len(missing))
print("decision log: %d lines, %d decisions; %d ids received by wrk, %d of them missing from "
      "the log; %d logged decisions wrk did not read (in flight at its stop, at most %d)"
      % (log_lines, len(logged), len(ids), len(missing), extra, connections))
if len(ids) != ok:
    failures.append("wrk counted %d 200s but wrote %d ids" % (ok, len(ids)))
if missing:
    failures.append("%d decisions answered but not logged, e.g. %s" % (len(missing), missing[:3]))
if extra < 0 or extra > connections:
    failures.append("%d logged decisions beyond those answered" % extra)

samples = [tuple(map(int, l.split())) for l in open(work + "/rss.tsv") if len(l.split()) == 2]
steady = [kb for t, kb in samples if t >= warmup]
if len(steady) >= 6:
    third = len(steady) // 3
    first, last = statistics.median(steady[:third]), statistics.median(steady[-third:])
    bound = max(8 * 1024, first * 0.10)
    print("rss: %d samples; warm-up %d s; first third median %.1f MiB, last third median %.1f "
          "MiB (growth %.1f MiB, bound %.1f MiB); min %.1f, max %.1f MiB"
          % (len(samples), warmup, first / 1024, last / 1024, (last - first) / 1024,
             bound / 1024, min(steady) / 1024, max(steady) / 1024))
    if last - first > bound:
        failures.append("memory grew %.1f MiB (bound %.1f MiB)" % ((last - first) / 1024,
                                                                     bound / 1024))
else:
    failures.append("too few RSS samples after the warm-up (%d)" % len(steady))

print("mixed in: %d bad requests (%d answered a wrong status), %d API reloads ok, %d broken "
      "policies refused; SIGHUP and folder-watch reloads; serve exit %d; final policy %s"
      % (bad_sent, bad_failures, reloads_ok, reloads_refused, serve_rc, version))
if twilio:
    print("flex (Twilio configured): %d recording requests on known calls, %d went to Twilio, "
          "%d refused by the policy" % (flex_sent, flex_granted, flex_refused))
    if flex_sent == 0:
        failures.append("no Flex recording request was sent")
if bad_failures:
    failures.append("%d bad requests, reloads or Flex requests answered unexpectedly"
                    % bad_failures)
if serve_rc != 0:
    failures.append("serve exited %d" % serve_rc)
if failures:
    print("SOAK FAILED: " + "; ".join(failures))
    sys.exit(1)
print("SOAK OK")
PY
