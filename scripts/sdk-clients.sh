#!/usr/bin/env bash
# Microsoft's own client libraries against `ats-gateway emulator --tls`: the README's "Use the sandbox from
# your own code" snippets, extracted from README.md and run as written (Python msal with a secret and with
# the demo certificate, azure-identity, Node @azure/msal-node). Each gets a token and calls the Web API.
# Called by .ci/run after the tests (which built target/debug/ats-gateway); installs the libraries from
# PyPI and npm into target/sdk-clients/ (reused on the next run). Any failure fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

BIN=${BIN:-target/debug/ats-gateway}
DIR=${SDK_DIR:-target/sdk-clients}
mkdir -p "$DIR"

if [ ! -x "$DIR/venv/bin/python" ] || ! "$DIR/venv/bin/python" -c 'import msal, azure.identity, requests' 2>/dev/null; then
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install --quiet --disable-pip-version-check msal azure-identity requests
fi
if [ ! -d "$DIR/node/node_modules/@azure/msal-node" ]; then
  npm install --silent --no-save --no-audit --no-fund --prefix "$DIR/node" @azure/msal-node >/dev/null
fi

[ -x "$BIN" ] || cargo build --locked
work=$(mktemp -d)
"$BIN" emulator --tls --listen 127.0.0.1:0 >"$work/ready.json" 2>"$work/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  grep -q '"event":"ready"' "$work/ready.json" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; echo "emulator exited"; exit 1; }
  sleep 0.1
done
grep -q '"event":"ready"' "$work/ready.json" || { echo "emulator not ready in 30 s"; exit 1; }

# Each fenced block after `<!-- sdk-clients: NAME -->` becomes $work/NAME.
python3 - README.md "$work" <<'PY'
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text()
found = re.findall(r"<!-- sdk-clients: (\S+) -->\n```[a-z]*\n(.*?)\n```", text, re.S)
want = {"env.sh", "msal_secret.py", "msal_cert.py", "azure_identity.py", "msal_node.mjs"}
missing = want - {name for name, _ in found}
if missing:
    sys.exit(f"README.md lacks the snippets {sorted(missing)}")
for name, body in found:
    pathlib.Path(sys.argv[2], name).write_text(body + "\n")
PY

cd "$work"
# shellcheck disable=SC1091
. ./env.sh
export SANDBOX_CERT_FILE="$root/crates/ats-sandbox/src/fixtures/demo_client_cert.pem"
export SANDBOX_KEY_FILE="$root/crates/ats-sandbox/src/fixtures/demo_client_key.pem"
case "$SANDBOX_URL" in https://*) ;; *) echo "the emulator is not on https: $SANDBOX_URL"; exit 1 ;; esac

py="$root/$DIR/venv/bin/python"
for snippet in msal_secret.py msal_cert.py azure_identity.py; do
  echo "== $snippet"
  timeout 60 "$py" "$snippet"
done
echo "== msal_node.mjs"
# Node resolves an ES module's imports from the file's own directory upwards.
cp msal_node.mjs "$root/$DIR/node/"
timeout 60 node "$root/$DIR/node/msal_node.mjs"

if command -v dotnet >/dev/null 2>&1; then
  echo "== .NET: SKIPPED (dotnet is on PATH, but the ServiceClient check is not written yet)"
else
  echo "== .NET: SKIPPED (dotnet is not on PATH)"
fi
echo "sdk-clients: all passed"
