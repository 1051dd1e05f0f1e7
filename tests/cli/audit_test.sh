#!/usr/bin/env bash
# `recrules audit` against the fake Twilio: every verdict, paging, the day filters, retries,
# output formats and exit codes.
#   audit_test.sh RECRULES_BINARY SOURCE_DIR
# Exits 77 (skipped) when node or curl is missing.
set -uo pipefail
BIN=$1
SRC=$2
command -v node >/dev/null && command -v curl >/dev/null || { echo "audit: node or curl missing"; exit 77; }
TMP=$(mktemp -d)
FAKE_PID=
cleanup() {
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
expect_rc() { # NAME WANT_RC CMD...: stdout/stderr to $TMP/out, $TMP/err
  local name=$1 want=$2; shift 2
  timeout 60 "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else fail "$name: exit $rc, want $want; stderr: $(cat "$TMP/err")"; fi
}
contains() { # NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then ok; else fail "$1: $2 lacks '$3': $(head -c 600 "$2")"; fi
}
lacks() { # NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then fail "$1: $2 has '$3'"; else ok; fi
}
# The row of a recording or call SID in the CSV output, e.g. row RE...: "duplicate,RE...,..."
row() { grep -F -- ",$1," "$TMP/out" | head -1; }
has_row() { # NAME SID VERDICT [TEXT]
  local r; r=$(row "$2")
  if [[ "$r" == "$3,"* ]] && [[ -z "${4:-}" || "$r" == *"$4"* ]]; then ok
  else fail "$1: row of $2 is '$r', want verdict $3${4:+ with '$4'}"; fi
}
sid() { printf '%s%032x' "$1" "$2"; }

# ---- the fake Twilio ------------------------------------------------------------------------
node "$SRC/tests/fake_twilio/fake_twilio.js" --port 0 >"$TMP/fake.out" 2>"$TMP/fake.err" &
FAKE_PID=$!
for _ in $(seq 100); do grep -q listening "$TMP/fake.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^fake_twilio listening 127.0.0.1://p' "$TMP/fake.out")
[ -n "$PORT" ] || { echo "FAIL: fake_twilio did not start: $(cat "$TMP/fake.err")"; exit 1; }
FAKE=http://127.0.0.1:$PORT
control() { curl -sf -m 10 -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$FAKE$2"; }
export TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa TWILIO_AUTH_TOKEN=fake-auth-token
export RECRULES_TWILIO_API_URL=$FAKE RECRULES_TWILIO_TIMEOUT_MS=5000

# ---- one call per verdict ---------------------------------------------------------------------
# Window: 2026-12-01 08:00 .. 18:00 UTC.
FROM=2026-12-01T08:00:00Z
TO=2026-12-01T18:00:00Z
for i in $(seq 1 12); do
  eval "WT$i=$(sid WT "$i") CA$i=$(sid CA "$i") CF$i=$(sid CF "$i") RE$i=$(sid RE "$i")"
done
RE5B=$(sid RE 55)
WORKER8=$(sid CA 88)
LOG=$TMP/decisions.log
decision() { # TIME ID TASK CALL CONF ACTION MODE CONFREC EVENT
  printf '{"time":"%s","type":"decision","source":"taskrouter","eventType":"reservation.accepted","id":"%s","event":"%s","action":"%s","mode":"%s","conferenceRecord":%s,"rule":"rule-%s","reason":"because %s","policy":"v1","taskSid":"%s","reservationSid":"WR0000","callSid":"%s","conferenceSid":"%s","latencyUs":3}\n' \
    "$1" "$2" "${9:-accept}" "$6" "$7" "$8" "$2" "$2" "$3" "$4" "$5" >>"$LOG"
}
action() { # TIME OPERATION DECISION TASK CALL CONF RECORDING RESULT [MESSAGE]
  printf '{"time":"%s","type":"recording","source":"taskrouter","operation":"%s","decisionId":"%s","taskSid":"%s","reservationSid":null,"callSid":"%s","conferenceSid":"%s","recordingSid":"%s","identity":null,"result":"%s","httpStatus":200,"twilioErrorCode":null,"message":%s,"attempts":1,"latencyMs":5}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-null}" >>"$LOG"
}
: >"$LOG"
# 1 explained: recorded dual-channel by recrules (a second ask answered from the call store).
decision 2026-12-01T09:00:00.000Z D1 "$WT1" "$CA1" "$CF1" record dual-channel false
action 2026-12-01T09:00:01.000Z create_call_recording D1 "$WT1" "$CA1" "$CF1" "$RE1" ok
action 2026-12-01T09:00:02.000Z create_call_recording D1 "$WT1" "$CA1" "$CF1" "$RE1" already_recorded
# 2 explained: Flex records the conference, as decided.
decision 2026-12-01T09:10:00.000Z D2 "$WT2" "$CA2" "$CF2" record conference true
# 3 unexpected: decided skip, recorded by the Console's conference flag.
decision 2026-12-01T09:20:00.000Z D3 "$WT3" "$CA3" "$CF3" skip conference false
# 4 unexpected: never decided (a <Dial record> call); no log line.
# 5 duplicate: a second recording of the same leg.
decision 2026-12-01T10:00:00.000Z D5 "$WT5" "$CA5" "$CF5" record dual-channel false
action 2026-12-01T10:00:01.000Z create_call_recording D5 "$WT5" "$CA5" "$CF5" "$RE5" ok
# 6 missing: recrules started it, Twilio does not list it.
decision 2026-12-01T10:30:00.000Z D6 "$WT6" "$CA6" "$CF6" record dual-channel false
action 2026-12-01T10:30:01.000Z create_call_recording D6 "$WT6" "$CA6" "$CF6" "$RE6" ok
# Twilio's status callback for it said absent (a recording_status line).
printf '{"time":"2026-12-01T10:31:00.000Z","type":"recording_status","callSid":"%s","recordingSid":"%s","status":"absent","errorCode":13621}\n' "$CA6" "$RE6" >>"$LOG"
# 7 missing: Twilio has it absent.
decision 2026-12-01T10:40:00.000Z D7 "$WT7" "$CA7" "$CF7" record dual-channel false
action 2026-12-01T10:40:01.000Z create_call_recording D7 "$WT7" "$CA7" "$CF7" "$RE7" ok
# 8 paused_not_resumed: the worker's leg was paused, the policy said record again, the resume
# failed.
decision 2026-12-01T11:00:00.000Z D8 "$WT8" "$CA8" "$CF8" record dual-channel false
action 2026-12-01T11:00:01.000Z create_call_recording D8 "$WT8" "$WORKER8" "$CF8" "$RE8" ok
decision 2026-12-01T11:05:00.000Z D8p "$WT8" "$CA8" "$CF8" pause dual-channel false update
action 2026-12-01T11:05:01.000Z pause_call_recording D8p "$WT8" "$WORKER8" "$CF8" "$RE8" ok
decision 2026-12-01T11:10:00.000Z D8r "$WT8" "$CA8" "$CF8" record dual-channel false update
action 2026-12-01T11:10:01.000Z resume_call_recording D8r "$WT8" "$WORKER8" "$CF8" "$RE8" error \
  '"Twilio error 20404: not found"'
# 9 explained: decided skip, not recorded.
decision 2026-12-01T11:30:00.000Z D9 "$WT9" "$CA9" "$CF9" skip dual-channel false
# 10 pause and resume that worked: explained.
decision 2026-12-01T12:00:00.000Z D10 "$WT10" "$CA10" "$CF10" record dual-channel false
action 2026-12-01T12:00:01.000Z create_call_recording D10 "$WT10" "$CA10" "$CF10" "$RE10" ok
decision 2026-12-01T12:05:00.000Z D10p "$WT10" "$CA10" "$CF10" pause dual-channel false update
action 2026-12-01T12:05:01.000Z pause_call_recording D10p "$WT10" "$CA10" "$CF10" "$RE10" ok
decision 2026-12-01T12:10:00.000Z D10r "$WT10" "$CA10" "$CF10" record dual-channel false update
action 2026-12-01T12:10:01.000Z resume_call_recording D10r "$WT10" "$CA10" "$CF10" "$RE10" ok
# 11 missing: decided record dual-channel, the create failed.
decision 2026-12-01T12:30:00.000Z D11 "$WT11" "$CA11" "$CF11" record dual-channel false
action 2026-12-01T12:30:01.000Z create_call_recording D11 "$WT11" "$CA11" "$CF11" "" error \
  '"the call has already ended"'
# Lines audit passes over: another type, a torn line, a decision long before the window.
echo '{"eventType":"reservation.accepted","message":"m","source":"taskrouter","taskSid":"WT1","time":"2026-12-01T09:00:00.000Z","type":"duplicate_event"}' >>"$LOG"
echo '{"time":"2026-12-01T12:' >>"$LOG"
decision 2026-11-20T09:00:00.000Z D12 "$WT12" "$CA12" "$CF12" record dual-channel false

rec() { # SID CALL CONF START SOURCE [STATUS] [ERROR_CODE]
  local call=null conf=null
  [ -n "$2" ] && call="\"$2\""
  [ -n "$3" ] && conf="\"$3\""
  printf '{"sid":"%s","call_sid":%s,"conference_sid":%s,"start_time":"%s","source":"%s","status":"%s","error_code":%s,"duration":61}' \
    "$1" "$call" "$conf" "$4" "$5" "${6:-completed}" "${7:-null}"
}
RECS="$(rec "$RE1" "$CA1" "" 2026-12-01T09:00:01Z StartCallRecordingAPI)"
RECS+=",$(rec "$RE2" "" "$CF2" 2026-12-01T09:10:05Z Conference)"
RECS+=",$(rec "$RE3" "" "$CF3" 2026-12-01T09:20:05Z Conference)"
RECS+=",$(rec "$RE4" "$CA4" "" 2026-12-01T09:30:00Z DialVerb)"
RECS+=",$(rec "$RE5" "$CA5" "" 2026-12-01T10:00:01Z StartCallRecordingAPI)"
RECS+=",$(rec "$RE5B" "$CA5" "" 2026-12-01T10:00:03Z StartCallRecordingAPI)"
RECS+=",$(rec "$RE7" "$CA7" "" 2026-12-01T10:40:01Z StartCallRecordingAPI absent 13617)"
RECS+=",$(rec "$RE8" "$WORKER8" "" 2026-12-01T11:00:01Z StartCallRecordingAPI)"
RECS+=",$(rec "$RE10" "$CA10" "" 2026-12-01T12:00:01Z StartCallRecordingAPI)"
# Outside the window: later the same day (listed, narrowed out) and the day before (filtered).
RECS+=",$(rec "$(sid RE 900)" "$(sid CA 900)" "" 2026-12-01T19:00:00Z Trunking)"
RECS+=",$(rec "$(sid RE 901)" "$(sid CA 901)" "" 2026-11-30T12:00:00Z Trunking)"
control POST /__control/seed "{\"recordings\":[$RECS]}" >/dev/null || fail "seed"

expect_rc "all verdicts" 1 "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG" --format csv
contains "csv header" "$TMP/out" "verdict,recordingSid,callSid,conferenceSid,taskSid,source,status,startTime,duration,decisionId,rule,cause"
has_row "dual-channel explained" "$RE1" explained "recrules started it"
has_row "conference explained" "$RE2" explained "Flex records the conference"
has_row "skip but recorded" "$RE3" unexpected "Console's call-recording flag"
has_row "skip but recorded names the decision" "$RE3" unexpected "decision D3 (rule rule-D3: because D3) said skip"
has_row "never decided" "$RE4" unexpected "TwiML"
has_row "first of two" "$RE5" explained
has_row "second of two" "$RE5B" duplicate "the first is $RE5"
has_row "started, not listed" "$RE6" missing "Twilio does not list it"
has_row "status callback said absent" "$RE6" missing "Twilio reported it absent (error_code 13621)"
has_row "absent" "$RE7" missing "error_code 13617"
has_row "paused, not resumed" "$RE8" paused_not_resumed "resume_call_recording failed"
has_row "skip, not recorded" "$CA9" explained "not recorded"
has_row "paused and resumed" "$RE10" explained
has_row "create failed" "$CA11" missing "create_call_recording failed"
lacks "narrowed on start_time" "$TMP/out" "$(sid RE 900)"
lacks "day filter" "$TMP/out" "$(sid RE 901)"
lacks "decision long before" "$TMP/out" "$CA12"
contains "summary" "$TMP/err" "explained 5 unexpected 2 duplicate 1 missing 3 paused_not_resumed 1"
contains "torn line" "$TMP/err" "1 decision log line(s) are not JSON objects; skipped"
contains "the day filter was asked" <(control GET /__control/requests) '"DateCreated>":"2026-12-01","DateCreated<":"2026-12-01"'

# A rotated log: FILE.1 (older lines) is read with FILE.
mkdir -p "$TMP/rot"
head -n 12 "$LOG" >"$TMP/rot/decisions.log.1"
tail -n +13 "$LOG" >"$TMP/rot/decisions.log"
expect_rc "rotated" 1 "$BIN" audit --from "$FROM" --to "$TO" --log "$TMP/rot/decisions.log" --format csv
contains "rotated summary" "$TMP/err" "explained 5 unexpected 2 duplicate 1 missing 3 paused_not_resumed 1"

# JSON: the same rows, the summary inside.
expect_rc "json" 1 "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG" --format json
node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const keys = "verdict,recordingSid,callSid,conferenceSid,taskSid,source,status,startTime,duration,decisionId,rule,cause";
  if (Object.keys(d.rows[0]).join(",") !== keys) throw new Error("row keys " + Object.keys(d.rows[0]));
  if (d.summary.missing !== 3 || d.summary.duplicate !== 1 || d.rows.length !== 12) throw new Error(JSON.stringify(d.summary));
  const r = d.rows.find((x) => x.verdict === "duplicate");
  if (r.duration !== 61 || r.startTime !== "2026-12-01T10:00:03Z" || r.taskSid === null) throw new Error(JSON.stringify(r));
' "$TMP/out" && ok || fail "json rows: $(head -c 400 "$TMP/out")"

# Table (the default), from stdin.
expect_rc "table stdin" 1 sh -c "'$BIN' audit --from $FROM --to $TO < '$LOG'"
contains "table" "$TMP/out" "VERDICT"
contains "table summary" "$TMP/out" "audit 2026-12-01T08:00:00Z .. 2026-12-01T18:00:00Z: explained 5"

# Nothing wrong in the window: exit 0.
expect_rc "clean window" 0 "$BIN" audit --from 2026-12-01T08:55:00Z --to 2026-12-01T09:15:00Z --log "$LOG" --format csv
has_row "clean window" "$RE1" explained
contains "clean summary" "$TMP/err" "explained 2 unexpected 0 duplicate 0 missing 0"

# ---- pages and retries ----------------------------------------------------------------------
# 1100 recordings later the same day come first (newest first): the window's are on page 2.
MANY=$(node -e '
  const out = [];
  for (let i = 0; i < 1100; i++) out.push({ call_sid: "CA" + (0xabc000 + i).toString(16).padStart(32, "0"),
      start_time: new Date(Date.UTC(2026, 11, 1, 20, 0, i % 60, i)).toISOString(), source: "Trunking" });
  process.stdout.write(JSON.stringify({ recordings: out }));')
control POST /__control/seed "$MANY" >/dev/null || fail "seed many"
control DELETE /__control/requests >/dev/null
control POST /__control/faults '{"method":"GET","path":"/Recordings.json","status":503,"count":1}' >/dev/null
expect_rc "paged, after a 503" 1 "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG" --format csv
has_row "page 2" "$RE1" explained
contains "paged summary" "$TMP/err" "explained 5 unexpected 2 duplicate 1 missing 3 paused_not_resumed 1"
control GET /__control/requests >"$TMP/journal"
contains "retried the 503" "$TMP/journal" '"fault":{"status":503}'
contains "page size" "$TMP/journal" '"PageSize":"1000"'
contains "followed next_page_uri" "$TMP/journal" '"Page":"1"'

# ---- a decision just before the end of the listed days ----------------------------------------
# Recorded at 00:00:02 the next day: found by asking Twilio about that call, not missing.
LATE=$(sid CA 777)
: >"$TMP/late.log"
LOG=$TMP/late.log decision 2026-12-01T23:59:58.000Z DL "$(sid WT 777)" "$LATE" "$(sid CF 777)" record dual-channel false
control POST /__control/seed "{\"recordings\":[$(rec "$(sid RE 777)" "$LATE" "" 2026-12-02T00:00:02Z StartCallRecordingAPI)]}" >/dev/null
expect_rc "late start" 0 "$BIN" audit --from 2026-12-01T23:00:00Z --to 2026-12-02T00:00:00Z --log "$TMP/late.log" --format csv
has_row "late start" "$(sid RE 777)" explained

# ---- bad input: exit 2, one clear line ----------------------------------------------------------
expect_rc "bad from" 2 "$BIN" audit --from yesterday --to "$TO" --log "$LOG"
contains "bad from" "$TMP/err" 'recrules audit: --from "yesterday": expected unix seconds or an RFC 3339 time'
expect_rc "to before from" 2 "$BIN" audit --from "$TO" --to "$FROM" --log "$LOG"
contains "to before from" "$TMP/err" "recrules audit: --to must be after --from"
expect_rc "bad format" 2 "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG" --format xml
expect_rc "no log file" 2 "$BIN" audit --from "$FROM" --to "$TO" --log "$TMP/nope.log"
contains "no log file" "$TMP/err" "recrules audit: --log $TMP/nope.log: cannot open: No such file or directory"
expect_rc "no credentials" 2 env -u TWILIO_ACCOUNT_SID -u TWILIO_AUTH_TOKEN "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG"
contains "no credentials" "$TMP/err" "Twilio credentials are not configured"
expect_rc "wrong token" 2 env TWILIO_AUTH_TOKEN=wrong "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG"
contains "wrong token" "$TMP/err" "recrules audit: cannot list recordings (page 1): Twilio error 20003: Authenticate"
expect_rc "unreachable" 2 env RECRULES_TWILIO_API_URL=http://127.0.0.1:1 RECRULES_TWILIO_MAX_ATTEMPTS=1 "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG"
contains "unreachable" "$TMP/err" "cannot list recordings (page 1): could not connect to Twilio"

# A next_page_uri outside this account is not followed (the credentials would go with it).
control POST /__control/faults '{"method":"GET","path":"/Recordings.json","status":200,"body":{"recordings":[],"next_page_uri":"/2010-04-01/Accounts/ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/Recordings.json?Page=1"}}' >/dev/null
control DELETE /__control/requests >/dev/null
expect_rc "foreign next page" 2 "$BIN" audit --from "$FROM" --to "$TO" --log "$LOG"
contains "foreign next page" "$TMP/err" "cannot list recordings (page 2): Twilio's next_page_uri is not a page of this account"
lacks "foreign next page not asked" <(control GET /__control/requests) "ACbbbb"

echo "audit: $passed passed, $failed failed"
[ "$failed" = 0 ]
