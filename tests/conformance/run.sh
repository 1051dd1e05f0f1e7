#!/usr/bin/env bash
# Conformance of `recrules serve` with the Flex project template's plugin and serverless
# functions (issue 18). Skips (exit 77) when the template folder is absent. Installs the npm
# packages from package-lock.json first when node_modules is missing.
# Usage: run.sh SOURCE_DIR TEMPLATE_DIR RECRULES_EXECUTABLE [TEST_FILE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export RECRULES_SOURCE_DIR=$1
export RECRULES_FLEX_TEMPLATE=$2
export RECRULES_BIN=$3
export RECRULES_FAKE_TWILIO=$1/tests/fake_twilio/fake_twilio.js
for part in plugin-flex-ts-template-v2/src serverless-functions/src/functions; do
  if [[ ! -d $RECRULES_FLEX_TEMPLATE/$part ]]; then
    echo "conformance: skipped: the Flex template is not at $RECRULES_FLEX_TEMPLATE ($part missing)"
    exit 77
  fi
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "conformance: skipped: node and npm are needed"
  exit 77
fi
cd "$here"
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
# Further arguments: test files to run instead of all (by hand).
if (($# > 3)); then node --test "${@:4}"; else node --test test/; fi
