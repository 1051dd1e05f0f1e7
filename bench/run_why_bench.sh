#!/usr/bin/env bash
# Times `recrules why` on a generated decision log: the median of RUNS runs for the transferred
# call's customer SID and for its first recording's SID.
#   bench/run_why_bench.sh [BUILD_DIR]      env: BYTES=1073741824 FILES=1 RUNS=3 DIR=/tmp/recrules-why
# The log is generated once into DIR (bench/gen_decision_log.py) and kept for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BYTES=${BYTES:-1073741824}
FILES=${FILES:-1}
RUNS=${RUNS:-3}
DIR=${DIR:-/tmp/recrules-why}
BIN=$BUILD/src/recrules
[ -x "$BIN" ] || { echo "build $BIN first (cmake --build $BUILD --target recrules)" >&2; exit 2; }
mkdir -p "$DIR"
LOG=$DIR/decisions.log
if [ ! -s "$DIR/gen.out" ] || [ "$(cat "$DIR/bytes" 2>/dev/null)" != "$BYTES/$FILES" ]; then
  python3 bench/gen_decision_log.py "$LOG" --bytes "$BYTES" --files "$FILES" >"$DIR/gen.out"
  echo "$BYTES/$FILES" >"$DIR/bytes"
fi
cat "$DIR/gen.out"
CALL=$(sed -n 's/^transferred call: \(CA[0-9a-f]*\).*/\1/p' "$DIR/gen.out")
REC=$("$BIN" why "$CALL" --log "$LOG" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sids"]["recordings"][0])')
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for sid in "$CALL" "$REC"; do
  times=()
  for _ in $(seq "$RUNS"); do
    times+=("$( { /usr/bin/time -f '%e %U' "$BIN" why "$sid" --log "$LOG" >/dev/null; } 2>&1 | tail -1)")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v sid="$sid" -v n="$RUNS" \
    '{e[NR]=$1; u[NR]=$2} END {m=int((n+1)/2); printf "why %s: median %.2f s elapsed (%.2f s user) of %d runs; all: ", sid, e[m], u[m], n; for (i=1;i<=n;i++) printf "%s ", e[i]; print ""}'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
