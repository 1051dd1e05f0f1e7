#!/usr/bin/env bash
# The `recrules` command line contract: outputs and exit codes other tools rely on.
#   cli_test.sh RECRULES_BINARY SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
POLICY=$SRC/examples/policy
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# expect_rc NAME WANT_RC CMD...: runs CMD with stdout/stderr to $TMP/out, $TMP/err
expect_rc() {
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else fail "$name: exit $rc, want $want; stderr: $(cat "$TMP/err")"; fi
}
contains() { # NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then ok; else fail "$1: $2 lacks '$3': $(head -c 400 "$2")"; fi
}
lines() { # NAME FILE N
  local n; n=$(wc -l <"$2")
  if [ "$n" = "$3" ]; then ok; else fail "$1: $n lines, want $3"; fi
}

# --version and --help
expect_rc version 0 "$BIN" --version
contains version "$TMP/out" "recrules 0."
expect_rc help 0 "$BIN" --help
contains help "$TMP/out" "decide"
for cmd in decide check; do
  expect_rc "help $cmd" 0 "$BIN" "$cmd" --help
  contains "help $cmd" "$TMP/out" "Usage"
done
expect_rc "no command" 2 "$BIN"

# decide: one request from a file and from stdin, one JSON object out
expect_rc "decide file" 0 "$BIN" decide --policy "$POLICY" "$SRC/examples/tasks/hr_queue.json"
contains "decide file" "$TMP/out" '"action":"skip"'
contains "decide file" "$TMP/out" '"rule":"builtin:exclusions"'
lines "decide file" "$TMP/out" 1
expect_rc "decide stdin" 0 sh -c "'$BIN' decide --policy '$POLICY' < '$SRC/examples/tasks/inbound_sales.json'"
contains "decide stdin" "$TMP/out" '"action":"record"'
expect_rc "decide event" 0 "$BIN" decide --policy "$POLICY" --event pause_request "$SRC/examples/tasks/inbound_sales.json"
contains "decide event" "$TMP/out" '"event":"pause_request","action":"pause"'
expect_rc "decide explain" 0 "$BIN" decide --policy "$POLICY" --explain "$SRC/examples/tasks/inbound_sales.json"
contains "decide explain" "$TMP/out" '"trace":[{"rule":"builtin:non_voice"'
expect_rc "decide now" 0 "$BIN" decide --policy "$POLICY" --now 2024-06-01T09:30:00Z "$SRC/examples/tasks/inbound_sales.json"

# decide: bad input is one line on stderr and exit 2
echo '{"task": {"queueName": 5}}' >"$TMP/bad_type.json"
expect_rc "bad type" 2 "$BIN" decide --policy "$POLICY" "$TMP/bad_type.json"
contains "bad type" "$TMP/err" "recrules decide: request.task.queueName: expected a string, got number"
lines "bad type" "$TMP/err" 1
printf '{"task": \n {"a": }' >"$TMP/bad_json.json"
expect_rc "bad json" 2 "$BIN" decide --policy "$POLICY" "$TMP/bad_json.json"
contains "bad json" "$TMP/err" "recrules decide: request: malformed JSON at line 2, column 8"
expect_rc "bad event" 2 "$BIN" decide --policy "$POLICY" --event hangup "$SRC/examples/tasks/hr_queue.json"
contains "bad event" "$TMP/err" 'recrules decide: --event: unknown event "hangup"'
echo '{"event":"hangup","task":{}}' >"$TMP/bad_event.json"
expect_rc "bad event in request" 2 "$BIN" decide --policy "$POLICY" "$TMP/bad_event.json"
contains "bad event in request" "$TMP/err" 'request.event: unknown event "hangup"'
expect_rc "bad now" 2 "$BIN" decide --policy "$POLICY" --now yesterday "$SRC/examples/tasks/hr_queue.json"
expect_rc "now without zone" 2 "$BIN" decide --policy "$POLICY" --now 2024-06-01T09:30:00 "$SRC/examples/tasks/hr_queue.json"
contains "now without zone" "$TMP/err" 'is neither unix seconds nor an RFC 3339 time'
expect_rc "now with offset" 0 "$BIN" decide --policy "$POLICY" --now 2024-06-01T09:30:00.5-05:00 "$SRC/examples/tasks/hr_queue.json"
expect_rc "now bad month" 2 "$BIN" decide --policy "$POLICY" --now 2024-13-01T00:00:00Z "$SRC/examples/tasks/hr_queue.json"
expect_rc "missing file" 2 "$BIN" decide --policy "$POLICY" "$TMP/nope.json"
mkdir -p "$TMP/badpolicy"
echo '{"recrules":{"default":"maybe"}}' >"$TMP/badpolicy/policy.json"
expect_rc "bad policy" 2 "$BIN" decide --policy "$TMP/badpolicy" "$SRC/examples/tasks/hr_queue.json"
contains "bad policy" "$TMP/err" 'policy.json: recrules.default: expected "record" or "skip", got "maybe"'
expect_rc "missing --policy" 2 "$BIN" decide "$SRC/examples/tasks/hr_queue.json"

# decide --jsonl: one decision per line, in order; a bad line gives an error object and goes on
{
  tr -d '\n' <"$SRC/examples/tasks/hr_queue.json"; echo
  echo '{"queueName": 1}'
  echo
  tr -d '\n' <"$SRC/examples/tasks/inbound_sales.json"; echo
  echo 'not json'
} >"$TMP/requests.jsonl"
expect_rc "jsonl" 2 "$BIN" decide --policy "$POLICY" --jsonl "$TMP/requests.jsonl"
lines "jsonl" "$TMP/out" 4
if sed -n 1p "$TMP/out" | grep -q '"action":"skip"'; then ok; else fail "jsonl line 1"; fi
if sed -n 2p "$TMP/out" | grep -qF '{"line":2,"error":{"code":"invalid_input","message":"task.queueName: expected a string, got number"}}'; then ok; else fail "jsonl line 2: $(sed -n 2p "$TMP/out")"; fi
if sed -n 3p "$TMP/out" | grep -q '"action":"record"'; then ok; else fail "jsonl line 3"; fi
if sed -n 4p "$TMP/out" | grep -q '{"line":5,"error":{"code":"invalid_input","message":"request: malformed JSON at line 1, column 2'; then ok; else fail "jsonl line 5: $(sed -n 4p "$TMP/out")"; fi
contains "jsonl" "$TMP/err" "2 of 5 lines could not be decided"
expect_rc "jsonl clean" 0 sh -c "sed -n 1p '$TMP/requests.jsonl' | '$BIN' decide --policy '$POLICY' --jsonl"

# streaming: 100000 lines through a pipe with bounded memory (the max RSS stays far below what
# holding the input or output would take: ~70 MB of requests)
python3 - "$SRC/examples/tasks/inbound_sales.json" >"$TMP/many.jsonl" <<'PY'
import json, sys
line = json.dumps(json.load(open(sys.argv[1]))) + "\n"
sys.stdout.write(line * 100000)
PY
/usr/bin/time -f "%M" -o "$TMP/rss" "$BIN" decide --policy "$POLICY" --jsonl "$TMP/many.jsonl" | wc -l >"$TMP/count"
if [ "$(cat "$TMP/count")" = 100000 ]; then ok; else fail "stream count $(cat "$TMP/count")"; fi
if [ -n "${RECRULES_SANITIZED:-}" ] || [ "$(tail -1 "$TMP/rss")" -lt 40000 ]; then ok; else
  fail "stream max RSS $(tail -1 "$TMP/rss") KB"; fi

# check
expect_rc check 0 "$BIN" check "$POLICY"
contains check "$TMP/out" "version: "
contains check "$TMP/out" "  2. builtin:exclusions"
expect_rc "check bad" 2 "$BIN" check "$TMP/badpolicy"
contains "check bad" "$TMP/err" "recrules check: "

# Issue 23 item 14: an endless input is refused at the request limit, not read without end
expect_rc "decide /dev/zero" 2 timeout 20 "$BIN" decide --policy "$POLICY" /dev/zero
contains "decide /dev/zero" "$TMP/err" "recrules decide: /dev/zero: more than 1048576 bytes, over the limit of a request"
expect_rc "decide endless stdin" 2 timeout 20 sh -c "'$BIN' decide --policy '$POLICY' < /dev/zero"
contains "decide endless stdin" "$TMP/err" "recrules decide: stdin: more than 1048576 bytes"
expect_rc "decide --jsonl endless line" 2 timeout 20 "$BIN" decide --policy "$POLICY" --jsonl /dev/zero
contains "decide --jsonl endless line" "$TMP/err" "line 1: more than 1048576 bytes, over the limit of a request; stopped reading"

# Issue 23 item 2: a 100 000-deep policy.json was a stack overflow (segfault) in check
mkdir -p "$TMP/deep"
python3 -c 'print("{\"features\":{\"x\":" + "[" * 100000 + "]" * 100000 + "}}")' >"$TMP/deep/policy.json"
expect_rc "check deep" 2 "$BIN" check "$TMP/deep"
contains "check deep" "$TMP/err" "policy.json: JSON nesting is deeper than 64 levels"

# Issue 23 item 13: what JSON.stringify(2**64) writes is a number, not an error
echo '{"task":{"queueName":"Sales","taskChannelUniqueName":"voice","attributes":{"n":18446744073709552000}}}' >"$TMP/big.json"
expect_rc "decide big number" 0 "$BIN" decide --policy "$POLICY" "$TMP/big.json"
contains "decide big number" "$TMP/out" '"action":"record"'

echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
