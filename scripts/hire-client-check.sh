#!/usr/bin/env bash
# A generated client can build a hire: openapi-typescript turns openapi/openapi.json into types,
# and tsc --strict checks a full external hire and an internal one against them (and that a body
# without a new person's last name, or a contact without its locator, does not type-check).
# Installs its tools into target/hire-client (npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=target/hire-client
mkdir -p "$DIR"
if [ ! -x "$DIR/node_modules/.bin/tsc" ]; then
  (cd "$DIR" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
    openapi-typescript@7.13.0 typescript@5)
fi
"$DIR/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$DIR/api.d.ts"
cp scripts/hire-client/hire.ts "$DIR/hire.ts"
"$DIR/node_modules/.bin/tsc" --strict --noEmit "$DIR/hire.ts"
echo "hire client type-checks"
