#!/usr/bin/env bash
# Loopback load benchmark of the partner read path (issue 3): a warm `page_size=50` list through the
# gateway vs. the same page straight from the emulator, plus upstream calls per partner page.
# Usage: scripts/bench.sh [seconds=10] [concurrency=16] [scale=500]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}; CONC=${2:-16}; SCALE=${3:-500}
cargo build --release --quiet --bin ats-gateway --example load
BIN=target/release/ats-gateway; LOAD=target/release/examples/load
[ -n "${CARGO_TARGET_DIR:-}" ] && BIN=$CARGO_TARGET_DIR/release/ats-gateway && LOAD=$CARGO_TARGET_DIR/release/examples/load
WORK=$(mktemp -d); trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
PAIR=$($BIN partner-secret)
SECRET=$(echo "$PAIR" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_secret"])')
HASH=$(echo "$PAIR" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_secret_hash"])')
cat > "$WORK/bench.toml" <<TOML
[sandbox]
max_requests_per_window = 100000000
max_concurrent = 1000
[[auth.partners]]
id = "bench"
client_id = "bench"
client_secret_hashes = ["$HASH"]
scopes = ["recruiting-requests:read", "reference:read"]
companies = ["*"]   # no company filter, so the emulator baseline below runs the same query
rate_limit = { per_second = 1000000, burst = 1000000 }
TOML
RUST_LOG=warn $BIN --config "$WORK/bench.toml" sandbox --listen 127.0.0.1:0 --emulator-listen 127.0.0.1:0 --scale "$SCALE" > "$WORK/ready" 2>/dev/null &
PID=$!
for _ in $(seq 1 600); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
READY=$(head -n1 "$WORK/ready")
j() { echo "$READY" | python3 -c "import json,sys;v=json.load(sys.stdin);print($1)"; }
GW=$(j 'v["gateway"]'); EMU=$(j 'v["emulator"]'); TOKEN_URL=$(j 'v["dataverse"]["token_url"]')
CID=$(j 'v["dataverse"]["client_id"]'); CSEC=$(j 'v["dataverse"]["client_secret"]')
PTOKEN=$(curl -s "$GW/oauth2/token" -d grant_type=client_credentials -d client_id=bench --data-urlencode client_secret="$SECRET" | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
ETOKEN=$(curl -s "$TOKEN_URL" -d grant_type=client_credentials -d client_id="$CID" --data-urlencode client_secret="$CSEC" --data-urlencode scope="$EMU/.default" | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
LIST="$GW/v1/recruiting-requests?page_size=50"
curl -sf -o /dev/null -H "Authorization: Bearer $PTOKEN" "$LIST"   # warm caches (labels, lookups, token)
total() { curl -s "$EMU/_sandbox/stats" | python3 -c 'import json,sys;print(json.load(sys.stdin)["total_requests"])'; }
BEFORE=$(total)
GWRES=$($LOAD "$LIST" --token "$PTOKEN" --concurrency "$CONC" --seconds "$SECS")
AFTER=$(total)
SELECT='mshr_hcmrecruitingrequestentityid,mshr_recruitingrequestid,mshr_dataareaid,_mshr_dataareaid_id_value,mshr_description,mshr_externaldescription,mshr_status,_mshr_fk_hiringmanager_id_value,_mshr_fk_recruiter_id_value,_mshr_fk_job_id_value,_mshr_fk_title_id_value,_mshr_fk_jobtype_id_value,mshr_jobfunctionid,_mshr_fk_recruitingrequestlocation_id_value,mshr_estimatedstartdate,mshr_defaultfulltimeequivalency,mshr_regulatoryjobcategory,mshr_exemptstatus,mshr_compensationlowthreshold,mshr_compensationcontrolpoint,mshr_compensationhighthreshold,mshr_compensationlevelid,mshr_comments'
BASE="$EMU/api/data/v9.2/mshr_hcmrecruitingrequestentities?\$select=$SELECT&\$orderby=mshr_recruitingrequestid"
EMURES=$($LOAD "$BASE" --token "$ETOKEN" --header 'Prefer: odata.maxpagesize=50,odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"' --concurrency "$CONC" --seconds "$SECS")
python3 - "$GWRES" "$EMURES" "$BEFORE" "$AFTER" "$SCALE" <<'PY'
import json, sys
gw, emu = json.loads(sys.argv[1]), json.loads(sys.argv[2])
before, after, scale = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(json.dumps({"scale": scale, "gateway_list_page50": gw, "emulator_direct_page50": emu,
    "upstream_calls_per_partner_page": round((after - before) / max(gw["requests"], 1), 3)}, indent=1))
PY
