#!/usr/bin/env bash
# Builds the Flex plugin client (strict TypeScript) and runs its tests with node's test runner.
# Installs the npm packages from package-lock.json first when node_modules is missing.
# Usage: flex_test.sh SOURCE_DIR OUT_DIR RECRULES_EXECUTABLE
set -euo pipefail
flex=$1/bindings/flex
out=$2
export RECRULES_BIN=$3
export RECRULES_FAKE_TWILIO=$1/tests/fake_twilio/fake_twilio.js
cd "$flex"
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
rm -rf "$out"
node_modules/.bin/tsc -p tsconfig.json --outDir "$out"
node --test "$out"/test/*.test.js
