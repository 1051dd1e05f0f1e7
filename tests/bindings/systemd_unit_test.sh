#!/usr/bin/env bash
# Checks packaging/systemd/recrules.service with systemd-analyze verify (pointing ExecStart at
# the built executable) and that it follows the serve contract: serve --policy --listen,
# ExecReload sends SIGHUP, credentials come from the environment file.
# Usage: systemd_unit_test.sh SOURCE_DIR RECRULES_EXECUTABLE
set -euo pipefail
src=$1
exe=$2
unit=$src/packaging/systemd/recrules.service
# shellcheck disable=SC2016  # systemd expands these, not the shell
grep -qx 'ExecStart=/usr/bin/recrules serve --policy ${RECRULES_POLICY} --listen ${RECRULES_LISTEN}' "$unit"
# shellcheck disable=SC2016
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"
grep -qx 'EnvironmentFile=-/etc/recrules/recrules.env' "$unit"
grep -qx 'Restart=on-failure' "$unit"
for key in RECRULES_POLICY RECRULES_LISTEN TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN; do
  grep -q "^$key=" "$src/packaging/recrules.env.example"
done
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not installed: verify skipped"
  echo "systemd unit test: OK"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/recrules_unit_test.XXXXXX")
trap 'rm -rf "$work"' EXIT
sed "s|/usr/bin/recrules|$exe|" "$unit" >"$work/recrules.service"
# verify prints problems and exits non-zero on errors; any output at all is a failure here.
out=$(systemd-analyze verify --man=no "$work/recrules.service" 2>&1 || echo "exit status $?")
if [[ -n $out ]]; then
  echo "$out"
  exit 1
fi
echo "systemd unit test: OK"
