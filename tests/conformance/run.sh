#!/usr/bin/env bash
# Conformance of `recrules serve` with the Flex project template's plugin and serverless
# functions (issue 18). Skips (exit 77) when the template folder is absent. Installs the npm
# packages from package-lock.json first when node_modules is missing.
# Usage: run.sh SOURCE_DIR TEMPLATE_DIR RECRULES_EXECUTABLE [TEST_FILE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for part in plugin-flex-ts-template-v2/src serverless-functions/src/functions; do
  if [[ ! -d $2/$part ]]; then
    echo "conformance: skipped: the Flex template is not at $2 ($part missing)"
    exit 77
  fi
done
export RECRULES_SOURCE_DIR=$(realpath "$1")
export RECRULES_FLEX_TEMPLATE=$(realpath "$2")
export RECRULES_BIN=$(realpath "$3")
export RECRULES_FAKE_TWILIO=$RECRULES_SOURCE_DIR/tests/fake_twilio/fake_twilio.js
tests=()
for file in "${@:4}"; do tests+=("$(realpath "$file")"); done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "conformance: skipped: node and npm are needed"
  exit 77
fi
cd "$here"
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
# Further arguments: test files to run instead of all (by hand).
if ((${#tests[@]})); then node --test "${tests[@]}"; else node --test test/; fi
