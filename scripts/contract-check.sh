#!/usr/bin/env bash
# The partner contract, checked from outside: the committed OpenAPI document is valid OpenAPI 3.1,
# and schemathesis finds nothing against a sandbox started here (every operation, all phases).
# Called by .ci/run after the tests (which built target/debug/ats-gateway); installs its own tools
# into target/ci-venv. MAX_EXAMPLES (default 50) bounds the fuzzing per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/debug/ats-gateway}
VENV=${VENV:-target/ci-venv}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}

if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
fi

echo "== OpenAPI 3.1 validation of openapi/openapi.json"
"$VENV/bin/openapi-spec-validator" openapi/openapi.json

[ -x "$BIN" ] || cargo build --locked
work=$(mktemp -d)
"$BIN" sandbox --listen 127.0.0.1:0 --emulator-listen 127.0.0.1:0 >"$work/ready" 2>"$work/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  grep -q '"event":"ready"' "$work/ready" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; echo "sandbox exited"; exit 1; }
  sleep 0.1
done
grep -q '"event":"ready"' "$work/ready" || { echo "sandbox not ready in 30 s"; exit 1; }
gw=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["gateway"])' "$work/ready")
# The sandbox's demo partner (src/demo.rs); the hooks give its credentials to token forms.
export CONTRACT_CLIENT_ID=acme-ats CONTRACT_CLIENT_SECRET=acme-demo-secret
CONTRACT_TOKEN=$(curl -fsS "$gw/oauth2/token" -d grant_type=client_credentials \
  -d client_id="$CONTRACT_CLIENT_ID" --data-urlencode client_secret="$CONTRACT_CLIENT_SECRET" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# The hooks read the partner's active recruiting requests from the gateway (hire bodies).
export CONTRACT_TOKEN CONTRACT_GATEWAY="$gw"

echo "== schemathesis against $gw (max $MAX_EXAMPLES examples per operation)"
start=$(date +%s)
# Paced below acme-ats's 50 requests/s, as a client that respects its limit: faster, most cases of
# the later operations would meet 429 and test nothing behind it.
# One worker: with two, CPython 3.11's `ast` module (hypothesis reads strategy sources with it) can
# fail with "AST constructor recursion depth mismatch" when threads parse at once; same run time.
SCHEMATHESIS_HOOKS=contract_hooks PYTHONPATH="$PWD/scripts" \
"$VENV/bin/st" --config-file scripts/contract-schemathesis.toml run "$gw/openapi.json" \
  --url "$gw" \
  --phases examples,coverage,fuzzing,stateful \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "$MAX_EXAMPLES" \
  --rate-limit 40/s \
  --workers 1 \
  --request-timeout 20
echo "schemathesis took $(( $(date +%s) - start )) s"
