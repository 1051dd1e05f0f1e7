#!/usr/bin/env bash
# `recrules why`: its exit codes and messages (0 found, 1 not in the log, 2 bad arguments or
# inputs), rotated files and stdin, a malformed line named and skipped.
#   why_cli_test.sh RECRULES_BINARY
set -uo pipefail
BIN=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
expect_rc() { # NAME WANT_RC CMD...: stdout to $TMP/out, stderr to $TMP/err
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else fail "$name: exit $rc, want $want; stderr: $(cat "$TMP/err")"; fi
}
contains() { # NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then ok; else fail "$1: $2 lacks '$3': $(head -c 400 "$2")"; fi
}
lacks() { # NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then fail "$1: $2 has '$3'"; else ok; fi
}

CALL=CA0123456789abcdef0123456789abcdef
TASK=WT0123456789abcdef0123456789abcdef
REC=RE1111111111111111111111111111111f
LOG=$TMP/decisions.log
# Rotated: the accept decision in the oldest file, the recording action in the current one.
cat >"$LOG.2" <<JSON
{"time":"2026-12-07T05:40:01.100Z","type":"decision","source":"taskrouter","eventType":"reservation.accepted","id":"d-1","event":"accept","action":"record","mode":"dual-channel","channel":"customer","conferenceRecord":false,"pauseBehavior":null,"rule":"default","reason":"no rule decided: the policy default is record","matched":null,"policy":"v7","taskSid":"$TASK","reservationSid":null,"callSid":"$CALL","conferenceSid":null,"latencyUs":9.1}
JSON
echo '{"time":"2026-12-07T05:40:01.200Z","type":"decision","callSid":"CA99999999999999999999999999999999"}' >"$LOG.1"
cat >"$LOG" <<JSON
{"time":"2026-12-07T05:40:01.400Z","type":"recording","source":"taskrouter","operation":"create_call_recording","decisionId":"d-1","taskSid":"$TASK","reservationSid":null,"callSid":"$CALL","conferenceSid":null,"recordingSid":"$REC","identity":null,"result":"ok","httpStatus":201,"twilioErrorCode":null,"message":null,"attempts":1,"latencyMs":212}
{"time":"2026-12-07T05:40:02.000Z","type":"decision","taskSid":"$TASK", cut off
JSON

expect_rc "help" 0 "$BIN" why --help
contains "help" "$TMP/out" "Usage"
expect_rc "found" 0 "$BIN" why "$REC" --log "$LOG"
contains "found" "$TMP/out" "recrules why $REC: 2 lines in 3 files"
contains "found" "$TMP/out" "TaskRouter: a reservation accepted"
contains "found" "$TMP/out" "($LOG.2:1)"
contains "found" "$TMP/out" "Twilio answered: done (HTTP 201, recording $REC, 1 attempt, 212 ms)"
lacks "found" "$TMP/out" "CA99999999999999999999999999999999"
contains "found" "$TMP/err" "recrules why: $LOG:2: skipped: not JSON: error at byte"
expect_rc "upper-case hex" 0 "$BIN" why "RE1111111111111111111111111111111F" --log "$LOG"
expect_rc "json" 0 "$BIN" why "$CALL" --json --log "$LOG"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["entries"])==2 and d["skipped"][0]["line"]==2' "$TMP/out"; then ok; else fail "json: $(head -c 400 "$TMP/out")"; fi
cat "$LOG.2" "$LOG.1" "$LOG" >"$TMP/all.log"
echo '{"time":"2026-12-07T05:40:01.300Z","type":"decision","source":"flex","operation":"pause_call_recording","identity":"instance B","action":"pause","taskSid":"'$TASK'"}' >"$TMP/other.log"
expect_rc "stdin" 0 sh -c "'$BIN' why $TASK <'$TMP/all.log'"
contains "stdin" "$TMP/err" "recrules why: stdin:4: skipped"
expect_rc "stdin pipe" 0 sh -c "cat '$TMP/all.log' | '$BIN' why $TASK"
contains "stdin pipe" "$TMP/out" "Twilio answered: done (HTTP 201, recording $REC"
contains "stdin pipe" "$TMP/err" "recrules why: stdin:4: skipped"
expect_rc "stdin dash" 0 sh -c "'$BIN' why $TASK --log - <'$TMP/all.log'"
expect_rc "stdin twice" 2 sh -c "'$BIN' why $TASK --log - - <'$TMP/all.log'"
contains "stdin twice" "$TMP/err" "recrules why: -: stdin is named twice"

# Two instances' logs, given newest first: merged by time.
expect_rc "two logs" 0 "$BIN" why "$TASK" --log "$LOG" --log "$TMP/other.log"
if [ "$(grep -c '^2026' "$TMP/out")" = 3 ] && grep '^2026' "$TMP/out" | sed -n 2p | grep -q 'instance B'; then ok; else fail "two logs: $(cat "$TMP/out")"; fi
# A line nested 200 000 levels deep (the walks over a parsed line recursed: a stack overflow).
python3 -c "print('{\"callSid\":\"$CALL\",\"x\":' + '['*200000 + ']'*200000 + '}')" >"$TMP/deep.log"
expect_rc "deep line" 1 "$BIN" why "$CALL" --log "$TMP/deep.log"
contains "deep line" "$TMP/err" "recrules why: $TMP/deep.log:1: skipped: nested deeper than 64 levels"
expect_rc "unknown sid" 1 "$BIN" why CAabcabcabcabcabcabcabcabcabcabcab --log "$LOG"
contains "unknown sid" "$TMP/err" "recrules why: call CAabcabcabcabcabcabcabcabcabcabcab: not in the decision log (3 files"
expect_rc "no sid" 2 "$BIN" why --log "$LOG"
expect_rc "bad sid" 2 "$BIN" why CA123 --log "$LOG"
contains "bad sid" "$TMP/err" 'recrules why: "CA123": expected a call (CA), conference (CF), task (WT), reservation (WR) or recording (RE) SID'
expect_rc "worker sid" 2 "$BIN" why WK0123456789abcdef0123456789abcdef --log "$LOG"
expect_rc "missing log" 2 "$BIN" why "$CALL" --log "$TMP/nope.log"
contains "missing log" "$TMP/err" "recrules why: $TMP/nope.log: cannot open: No such file or directory"
expect_rc "folder" 2 "$BIN" why "$CALL" --log "$TMP"
printf '\037\213\010\000rest' >"$TMP/old.log.gz"
expect_rc "gzip" 2 "$BIN" why "$CALL" --log "$TMP/old.log.gz"
contains "gzip" "$TMP/err" "gzip-compressed, which is not read directly: decompress it on the way in (--log <(gunzip -c"
# A pipe named as a file (how a compressed rotated file is read): read like stdin.
mkdir "$TMP/gz" && cp "$LOG" "$LOG.1" "$TMP/gz/" && gzip -c "$LOG.2" >"$TMP/gz/decisions.log.2.gz"
expect_rc "pipe as --log" 0 bash -c "'$BIN' why $TASK --log <(gunzip -c '$TMP/gz/decisions.log.2.gz') --log '$TMP/gz/decisions.log'"
contains "pipe as --log" "$TMP/out" "recrules why $TASK: 2 lines in 3 files"
contains "pipe as --log" "$TMP/out" "TaskRouter: a reservation accepted"
expect_rc "unknown option" 2 "$BIN" why "$CALL" --since yesterday

echo "why cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
