#!/usr/bin/env bash
# Times `recrules audit` over one day of a contact center against the fake Twilio: the median
# of RUNS runs (elapsed, user CPU, max RSS, and the peak of anonymous memory, RssAnon: the
# mapped log's pages count in max RSS but are page cache, not the audit's own memory).
#   bench/run_audit_bench.sh [BUILD_DIR]     env: CALLS=50000 BYTES=1073741824 RUNS=3 KEEP=0
# The day is generated once into a new folder under /tmp (bench/gen_audit_day.py), removed at
# the end unless KEEP=1. Each run must print the verdict counts the generator expects.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CALLS=${CALLS:-50000}
BYTES=${BYTES:-1073741824}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
BIN=$BUILD/src/recrules
[ -x "$BIN" ] || { echo "build $BIN first (cmake --build $BUILD --target recrules)" >&2; exit 2; }
command -v node >/dev/null && command -v curl >/dev/null || { echo "needs node and curl" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }
DIR=$(mktemp -d /tmp/recrules-audit-XXXXXX)
FAKE_PID=
cleanup() {
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
  if [ "$KEEP" = 1 ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

python3 bench/gen_audit_day.py "$DIR" --calls "$CALLS" --bytes "$BYTES"
LOG=$DIR/decisions.log

node tests/fake_twilio/fake_twilio.js --port 0 >"$DIR/fake.out" 2>"$DIR/fake.err" &
FAKE_PID=$!
for _ in $(seq 100); do grep -q listening "$DIR/fake.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^fake_twilio listening 127.0.0.1://p' "$DIR/fake.out")
[ -n "$PORT" ] || { echo "fake_twilio did not start: $(cat "$DIR/fake.err")" >&2; exit 1; }
FAKE=http://127.0.0.1:$PORT
# Seeded in parts of 5 000 recordings: one request body stays a few MB.
python3 - "$DIR" <<'EOF'
import json, sys
d = sys.argv[1]
recs = json.load(open(d + "/recordings.json"))["recordings"]
for n, i in enumerate(range(0, len(recs), 5000)):
    json.dump({"recordings": recs[i:i + 5000]}, open("%s/seed.%03d.json" % (d, n), "w"))
EOF
for part in "$DIR"/seed.*.json; do
  curl -sf -m 60 -X POST -H 'Content-Type: application/json' --data-binary "@$part" \
    "$FAKE/__control/seed" >/dev/null
done
export TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa TWILIO_AUTH_TOKEN=fake-auth-token
export RECRULES_TWILIO_API_URL=$FAKE RECRULES_TWILIO_TIMEOUT_MS=30000
EXPECTED=$(python3 -c 'import json,sys; print(" ".join("%s %d" % kv for kv in json.load(open(sys.argv[1])).items()))' "$DIR/expected.json")

# The peak RssAnon (kB) of PID, sampled every 50 ms until it ends.
peak_anon() {
  local pid=$1 peak=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.05
  done
  echo "$peak"
}

# The recrules process under timeout and time (started as PID), once it has started.
audit_pid() {
  local pid=$1
  for _ in $(seq 200); do
    for _ in 1 2 3; do
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = recrules ] && { echo "$pid"; return; }
      pid=$(pgrep -P "$pid" | head -1 || true)
      [ -n "$pid" ] || break
    done
    pid=$1
    sleep 0.01
  done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
for run in $(seq "$RUNS"); do
  # rc 1 is expected: the day has missing, unexpected and duplicate recordings.
  timeout 600 /usr/bin/time -f '%e %U %M' -o "$DIR/time.$run" "$BIN" audit \
    --from 2026-12-01T00:00:00Z --to 2026-12-02T00:00:00Z --log "$LOG" --format csv \
    >"$DIR/audit.csv" 2>"$DIR/audit.err" &
  TIME_PID=$!
  AUDIT_PID=$(audit_pid "$TIME_PID")
  anon=$( [ -n "$AUDIT_PID" ] && peak_anon "$AUDIT_PID" || echo 0)
  rc=0
  wait "$TIME_PID" || rc=$?
  [ "$rc" = 1 ] || { echo "run $run: audit exited $rc: $(tail -3 "$DIR/audit.err")" >&2; exit 1; }
  summary=$(grep '^audit ' "$DIR/audit.err" | sed 's/^audit [^ ]* \.\. [^ ]*: //')
  [ "$summary" = "$EXPECTED" ] || { echo "run $run: audit says '$summary', want '$EXPECTED'" >&2; exit 1; }
  read -r elapsed user maxrss < <(tail -1 "$DIR/time.$run")
  echo "run $run: $elapsed s elapsed, $user s user, max RSS $((maxrss / 1024)) MiB, peak RssAnon $((anon / 1024)) MiB; $(($(wc -l <"$DIR/audit.csv") - 1)) rows: $summary"
  results+=("$elapsed $user $maxrss $anon")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "${results[@]}" | awk -v c="$1" '{print $c}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "audit of a day ($CALLS calls, $(du -m "$LOG" | cut -f1) MiB log), median of $RUNS runs:" \
  "$(median 1) s elapsed, $(median 2) s user, max RSS $(($(median 3) / 1024)) MiB," \
  "peak RssAnon $(($(median 4) / 1024)) MiB"
