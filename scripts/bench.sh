#!/usr/bin/env bash
# One benchmark anyone can run: the emulator, nginx and the gateway as separate processes on
# loopback, the same partner list page through each, results side by side.
#
#   (a) direct    wrk → emulator (the gateway's upstream query for that page)
#   (b) nginx     wrk → nginx (plain proxy_pass, keep-alive upstream) → emulator
#   (c) gateway   wrk → gateway (response cache off) → emulator
#   (d) gateway   wrk → gateway (response cache on, default TTL) → emulator
#   (f) board     wrk → gateway's public job board list (`/boards/bench/jobs`, from the snapshot)
#   (g) job page  wrk → one job's HTML page (JSON-LD included); (f) and (g) should cost 0 calls
#
# Per column: req/s, p50, p99, non-2xx responses, the gateway's peak RSS (VmHWM),
# and upstream calls per 1,000 requests (the emulator's own request counter). Then, on the
# cache-on gateway: (e) a read-mostly mix, 20 partners in two rights groups over 50 distinct
# pages, its upstream calls counted from a cold cache; RSS while 1,000 partner connections are
# open; upstream token requests during the run (steady state: 0).
#
# wrk is closed loop: at saturation, latency is mostly queueing behind the busiest process. So
# (a), (b) and (c) also run open loop at a fixed --rate below saturation (examples/load.rs, latency
# from the scheduled start): the p99 a hop adds when the machine is not the bottleneck.
#
# Distinct-URL rows: (a), (b) and (c) again with no two requests alike (page sizes 1-200 in
# turn, examples/load.rs --vary; direct and nginx get the same upstream query the gateway sends
# for that size), so the gateway's coalescing cannot share calls: closed loop ($CONNECTIONS
# connections; goal: (c) ≥ 0.9× (b)) with upstream calls per 1,000 requests by table and the CPU
# each request cost the proxy (nginx with its worker, or the gateway) and the emulator (repeatable
# on a shared machine, where req/s and latency are not), and open loop at --rate (goal: (c) adds
# ≤ 1 ms p99 over (a)). (c1) is (c) with one worker thread (`[gateway] worker_threads = 1`), as
# nginx runs one worker process: less CPU per request, but nothing else runs while it works.
#
# Cold start (scripts/bench/coldstart.py, at --cold-scale, default 100000; 0 skips it): a fresh
# emulator and `serve`, the partner's first page asked for as soon as the ready line is out: its
# ms (goal ≤ 200 ms), the Dataverse calls it waited on, and the warm-up after it.
#
# Then what the gateway adds to one page by size with nothing else in flight (scripts/bench/per_size.py:
# the floor of the distinct open loop's p99 added, which its 200-row pages set); goal 4 in --rounds
# rounds, the columns taking turns on one emulator (scripts/bench/rounds.py; 0 skips it); and pacing by the
# budget Dataverse reports (scripts/bench/pacing.py, its own sandbox with a
# budget of 150 calls per 30 s): 600 distinct partner reads, the upstream calls Dataverse
# throttled (goal: ≤ 5), partner 5xx (goal: 0) and whether every partner 429's Retry-After was right.
#
# usage: scripts/bench.sh [--scale N] [--cold-scale N] [--duration SECONDS] [--connections N] [--rate N]
#                         [--rounds N] [--no-pacing] [--no-build]
# Installs wrk and nginx with apt-get when missing (sudo when not root). Loopback only; every
# process it starts is stopped on exit.
set -euo pipefail

SCALE=500
COLD_SCALE=100000
ROUNDS=4
DURATION=15
CONNECTIONS=32
RATE=200
BUILD=1
PACING=1
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --cold-scale) COLD_SCALE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-pacing) PACING=0; shift ;;
    -h|--help) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$SCALE$COLD_SCALE$DURATION$CONNECTIONS$RATE$ROUNDS" in *[!0-9]*) echo "--scale, --cold-scale, --duration, --connections, --rate and --rounds take integers" >&2; exit 2 ;; esac
[ "$ROUNDS" -le 20 ] || { echo "--rounds: 0 to 20" >&2; exit 2; }

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HELPERS="$ROOT/scripts/bench"
say() { printf '\n== %s\n' "$*" >&2; }

# --- tools --------------------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing ${need_apt[*]} (apt-get)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
  say "building (release)"
  (cd "$ROOT" && cargo build --release --locked --bin ats-gateway --example load)
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/ats-gateway"
LOAD="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/load"
[ -x "$BIN" ] || { echo "$BIN is missing (run without --no-build)" >&2; exit 1; }
[ -x "$LOAD" ] || { echo "$LOAD is missing (run without --no-build)" >&2; exit 1; }

# 1,000 held connections plus the load generator's need more descriptors than the usual 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- processes ----------------------------------------------------------------------------------
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

json() { python3 "$HELPERS/util.py" json "$@"; }
free_port() { python3 "$HELPERS/util.py" port; }

# Starts "$@" with stdout to $WORK/$name.out; sets STARTED_PID and READY (the JSON ready line).
start() {
  local name="$1" timeout="$2"; shift 2
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  local i
  for ((i = 0; i < timeout * 10; i++)); do
    if [ -s "$WORK/$name.out" ] && READY="$(head -n1 "$WORK/$name.out")" && [ -n "$READY" ]; then
      return 0
    fi
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then
      echo "$name exited before it was ready:" >&2
      tail -n 20 "$WORK/$name.err" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name was not ready within ${timeout}s" >&2
  return 1
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

say "emulator (--scale $SCALE, service protection lifted)"
T0=$(date +%s.%N)
ATS_GATEWAY__SANDBOX__MAX_REQUESTS_PER_WINDOW=1000000000 \
ATS_GATEWAY__SANDBOX__MAX_CONCURRENT=1000000 \
  start emulator 900 "$BIN" emulator --listen 127.0.0.1:0 --scale "$SCALE"
EMU_PID=$STARTED_PID
EMU_READY=$READY
SEED_SECONDS=$(python3 -c "import time; print(f'{time.time() - $T0:.1f}')")
EMU_URL=$(json "$READY" emulator)
TOKEN_URL=$(json "$READY" dataverse.token_url)
DV_CLIENT=$(json "$READY" dataverse.client_id)
DV_SECRET=$(json "$READY" dataverse.client_secret)
echo "emulator $EMU_URL seeded in ${SEED_SECONDS}s, RSS $(python3 "$HELPERS/util.py" rss "$EMU_PID" VmRSS) MiB" >&2

EMU_TOKEN=$(curl -sf "$TOKEN_URL" -d grant_type=client_credentials -d "client_id=$DV_CLIENT" \
  --data-urlencode "client_secret=$DV_SECRET" --data-urlencode "scope=$EMU_URL/.default" | json - access_token)

# The upstream request the gateway makes for GET /v1/recruiting-requests?page_size=50.
SELECT="mshr_hcmrecruitingrequestentityid,mshr_recruitingrequestid,mshr_dataareaid,_mshr_dataareaid_id_value,mshr_description,mshr_externaldescription,mshr_status,_mshr_fk_hiringmanager_id_value,_mshr_fk_recruiter_id_value,_mshr_fk_job_id_value,_mshr_fk_title_id_value,_mshr_fk_jobtype_id_value,mshr_jobfunctionid,_mshr_fk_recruitingrequestlocation_id_value,mshr_estimatedstartdate,mshr_defaultfulltimeequivalency,mshr_regulatoryjobcategory,mshr_exemptstatus,mshr_compensationlowthreshold,mshr_compensationcontrolpoint,mshr_compensationhighthreshold,mshr_compensationlevelid,mshr_comments"
UPSTREAM_PATH="/api/data/v9.2/mshr_hcmrecruitingrequestentities?\$select=$SELECT&\$orderby=mshr_recruitingrequestid%20asc,mshr_hcmrecruitingrequestentityid%20asc"
# The gateway's Prefer for a page of {n} rows (one copy, coldstart.LIST_PREFER).
PREFER_N=$(cd "$HELPERS" && python3 -c 'import coldstart; print(coldstart.LIST_PREFER)')
PREFER="${PREFER_N/\{n\}/50}"
PARTNER_PATH="/v1/recruiting-requests?page_size=50"
# Goal 4: `{n}` takes the page sizes 1-200 in turn (the partner maximum).
VARY="1..200"
PARTNER_PATH_N="/v1/recruiting-requests?page_size={n}"

say "nginx (proxy_pass to the emulator)"
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
python3 "$HELPERS/util.py" nginx-conf "$WORK/nginx" "${EMU_URL#http://}" "$NGINX_PORT" >"$WORK/nginx/nginx.conf"
"$NGINX" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
  >"$WORK/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for ((i = 0; i < 100; i++)); do
  curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/_sandbox/health" && break
  kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx.out" "$WORK/nginx/error.log" >&2; exit 1; }
  sleep 0.1
done

# A partner with all companies and no practical rate limit; its secret made by the binary.
PARTNER_SECRET_JSON=$("$BIN" partner-secret)
PARTNER_SECRET=$(json "$PARTNER_SECRET_JSON" client_secret)
PARTNER_HASH=$(json "$PARTNER_SECRET_JSON" client_secret_hash)
python3 "$HELPERS/util.py" gateway-toml "$WORK/state" bench "$PARTNER_HASH" "max_connections = 4096" \
  <<<"$EMU_READY" >"$WORK/gateway.toml"
cat >>"$WORK/gateway.toml" <<EOF

# A public job board: served from the snapshot, no token.
[[boards]]
id = "bench"
name = "Bench board"
companies = ["usmf"]
pay_transparency = true
apply_url = "https://ats.example.com/apply?request={number}"
hiring_organization = { name = "Contoso" }
rate_limit_per_minute = 4000000000
EOF
# The mix's partners: two rights groups (every company / one company), so shaping differs.
for n in $(seq -w 1 20); do
  companies='["*"]'
  [ $((10#$n % 2)) -eq 0 ] || companies='["usmf"]'
  cat >>"$WORK/gateway.toml" <<EOF

[[auth.partners]]
id = "mix$n"
client_id = "mix$n"
client_secret_hashes = ["$PARTNER_HASH"]
scopes = ["recruiting-requests:read"]
companies = $companies
rate_limit = { per_second = 1000000, burst = 1000000 }
EOF
done

# Starts a gateway with the response cache TTL $1 (ms); sets GW_PID, GW_URL, METRICS_URL, GW_TOKEN.
# A build without the response cache refuses the unknown key; it then runs without it.
CACHE_NOTE=""
start_gateway() {
  local ttl="$1" workers="${2:-0}"
  rm -rf "$WORK/state"
  if ! ATS_GATEWAY__CACHE__RESPONSE_TTL_MS="$ttl" ATS_GATEWAY__GATEWAY__WORKER_THREADS="$workers" \
    start "gateway-$ttl-$workers" 60 "$BIN" --config "$WORK/gateway.toml" serve; then
    CACHE_NOTE="this build has no [cache] response_ttl_ms: (c) and (d) run the same gateway"
    echo "$CACHE_NOTE" >&2
    start "gateway-$ttl-nocache" 60 "$BIN" --config "$WORK/gateway.toml" serve
  fi
  GW_PID=$STARTED_PID
  GW_URL=$(json "$READY" gateway)
  local ops
  ops=$(json "$READY" ops 2>/dev/null || true)
  METRICS_URL="${ops:-$GW_URL}/metrics"
  GW_TOKEN=$(curl -sf "$GW_URL/oauth2/token" -d grant_type=client_credentials -d client_id=bench \
    --data-urlencode "client_secret=$PARTNER_SECRET" | json - access_token)
}

upstream_calls() { curl -sf "$EMU_URL/_sandbox/stats" | json - total_requests; }
metric() { curl -sf "$METRICS_URL" | python3 "$HELPERS/util.py" metric "$1"; }

# wrk against $2 with the given headers; appends one result line to $WORK/results for column $1.
# For a gateway ($3 = its pid) also records its upstream token requests during the run.
load() {
  local column="$1" url="$2" pid="$3"; shift 3
  local hdr=() h
  for h in "$@"; do hdr+=(-H "$h"); done
  # Warm: caches, connection pools, the emulator's sort order.
  wrk -t2 -c4 -d2s "${hdr[@]}" "$url" >/dev/null
  local before after
  before=$(upstream_calls)
  [ -z "$pid" ] || TOKENS_BEFORE=$(metric upstream_token_requests_total)
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${hdr[@]}" "$url" >"$WORK/wrk-$column.txt"
  after=$(upstream_calls)
  [ -z "$pid" ] || TOKENS_AFTER=$(metric upstream_token_requests_total)
  python3 "$HELPERS/util.py" wrk "$column" "$WORK/wrk-$column.txt" "$((after - before))" "$pid" \
    >>"$WORK/results"
}

# Open loop at $RATE req/s for $DURATION s; appends one result line to $WORK/paced for column $1.
paced() {
  local column="$1" url="$2"; shift 2
  local args=() h
  for h in "$@"; do args+=(--header "$h"); done
  "$LOAD" "$url" --rate "$RATE" --seconds "$DURATION" "${args[@]}" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); r["column"]=sys.argv[1]; print(json.dumps(r))' "$column" \
    >>"$WORK/paced"
}

# Goal 4 on column $1: one warm pass over every page size (lookups and labels of the largest
# pages cached, connection pools open), then closed loop at $CONNECTIONS connections and open loop
# at $RATE req/s; appends to $WORK/distinct (with upstream calls by table) and $WORK/distinct-paced.
distinct() {
  local column="$1" url="$2" proxy="$3"; shift 3
  local args=() h
  for h in "$@"; do args+=(--header "$h"); done
  "$LOAD" "$url" --concurrency 4 --seconds 3 --vary "$VARY" "${args[@]}" >/dev/null
  curl -sf "$EMU_URL/_sandbox/stats" >"$WORK/stats-before.json"
  local cpu0="-" cpu1="-" emu0 emu1
  [ -z "$proxy" ] || cpu0=$(python3 "$HELPERS/util.py" cpu "$proxy")
  emu0=$(python3 "$HELPERS/util.py" cpu "$EMU_PID")
  "$LOAD" "$url" --concurrency "$CONNECTIONS" --seconds "$DURATION" --vary "$VARY" "${args[@]}" \
    >"$WORK/distinct-run.json"
  [ -z "$proxy" ] || cpu1=$(python3 "$HELPERS/util.py" cpu "$proxy")
  emu1=$(python3 "$HELPERS/util.py" cpu "$EMU_PID")
  curl -sf "$EMU_URL/_sandbox/stats" >"$WORK/stats-after.json"
  python3 "$HELPERS/util.py" distinct "$column" "$WORK/distinct-run.json" "$WORK/stats-before.json" \
    "$WORK/stats-after.json" "$cpu0" "$cpu1" "$emu0" "$emu1" >>"$WORK/distinct"
  "$LOAD" "$url" --rate "$RATE" --seconds "$DURATION" --vary "$VARY" "${args[@]}" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); r["column"]=sys.argv[1]; print(json.dumps(r))' "$column" \
    >>"$WORK/distinct-paced"
}

say "(a) direct"
load "a) direct" "$EMU_URL$UPSTREAM_PATH" "" "Authorization: Bearer $EMU_TOKEN" "Prefer: $PREFER"
paced "a) direct" "$EMU_URL$UPSTREAM_PATH" "Authorization: Bearer $EMU_TOKEN" "Prefer: $PREFER"
distinct "a) direct" "$EMU_URL$UPSTREAM_PATH" "" "Authorization: Bearer $EMU_TOKEN" "Prefer: $PREFER_N"
say "(b) nginx"
load "b) nginx" "http://127.0.0.1:$NGINX_PORT$UPSTREAM_PATH" "" "Authorization: Bearer $EMU_TOKEN" "Prefer: $PREFER"
paced "b) nginx" "http://127.0.0.1:$NGINX_PORT$UPSTREAM_PATH" "Authorization: Bearer $EMU_TOKEN" "Prefer: $PREFER"
distinct "b) nginx" "http://127.0.0.1:$NGINX_PORT$UPSTREAM_PATH" "$NGINX_PID" "Authorization: Bearer $EMU_TOKEN" "Prefer: $PREFER_N"

say "(c) gateway, response cache off"
start_gateway 0
load "c) gateway, cache off" "$GW_URL$PARTNER_PATH" "$GW_PID" "Authorization: Bearer $GW_TOKEN"
paced "c) gateway, cache off" "$GW_URL$PARTNER_PATH" "Authorization: Bearer $GW_TOKEN"
distinct "c) gateway, cache off" "$GW_URL$PARTNER_PATH_N" "$GW_PID" "Authorization: Bearer $GW_TOKEN"
stop "$GW_PID"
say "(c1) gateway, response cache off, one worker thread (as nginx runs one worker process)"
start_gateway 0 1
distinct "c1) gateway, cache off, one worker thread" "$GW_URL$PARTNER_PATH_N" "$GW_PID" "Authorization: Bearer $GW_TOKEN"
stop "$GW_PID"

say "(d) gateway, response cache on"
start_gateway 5000
load "d) gateway, cache on" "$GW_URL$PARTNER_PATH" "$GW_PID" "Authorization: Bearer $GW_TOKEN"

say "(f) job board list, (g) job page (HTML): public, from the boards' snapshot"
for ((i = 0; i < 600; i++)); do
  curl -sf -o /dev/null "$GW_URL/boards/bench/jobs" && break
  sleep 0.1
done
BOARD_JOB=$(curl -sf "$GW_URL/boards/bench/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
load "f) board list" "$GW_URL/boards/bench/jobs" "$GW_PID"
load "g) board job page" "$GW_URL/boards/bench/jobs/$BOARD_JOB" "$GW_PID" "Accept: text/html"

say "(e) gateway, response cache on, read-mostly mix (20 partners, 50 pages)"
# 50 distinct lists (page sizes 10-59) per partner; 1,000 lines cycled by wrk.
: >"$WORK/mix.txt"
for n in $(seq -w 1 20); do
  token=$(curl -sf "$GW_URL/oauth2/token" -d grant_type=client_credentials -d "client_id=mix$n" \
    --data-urlencode "client_secret=$PARTNER_SECRET" | json - access_token)
  for size in $(seq 10 59); do echo "$token /v1/recruiting-requests?page_size=$size" >>"$WORK/mix.txt"; done
done
before=$(upstream_calls)
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$HELPERS/mix.lua" "$GW_URL" -- "$WORK/mix.txt" \
  >"$WORK/wrk-mix.txt"
after=$(upstream_calls)
python3 "$HELPERS/util.py" wrk "e) gateway, cache on, mix (cold start)" "$WORK/wrk-mix.txt" "$((after - before))" \
  "$GW_PID" >>"$WORK/results"

say "1,000 open partner connections"
HELD=$(python3 "$HELPERS/connections.py" "$GW_URL$PARTNER_PATH" "$GW_TOKEN" "$GW_PID" 1000)
stop "$GW_PID"

python3 "$HELPERS/util.py" table "$WORK/results" \
  --machine "$(nproc) cores, $(uname -sr)" --scale "$SCALE" --seed-seconds "$SEED_SECONDS" \
  --duration "$DURATION" --connections "$CONNECTIONS" --held "$HELD" --paced "$WORK/paced" --rate "$RATE" \
  --distinct "$WORK/distinct" --distinct-paced "$WORK/distinct-paced" --vary "$VARY" \
  --tokens "$(python3 -c "print(int(float('$TOKENS_AFTER' or 0) - float('$TOKENS_BEFORE' or 0)))")" \
  --note "$CACHE_NOTE"

# The bench's own processes are stopped first: the cold start and the scripts after it get the
# machine to themselves.
cleanup
PIDS=()
if [ "$COLD_SCALE" -gt 0 ]; then
  say "cold start (--scale $COLD_SCALE): the first partner page right after the ready line"
  echo
  python3 "$HELPERS/coldstart.py" "$BIN" --scales "$COLD_SCALE"
fi

# Goal 4's floor: the open loop's p99 comes from its largest pages, so what the gateway adds to one
# 200-row page with nothing else in flight is the least it can add to that p99.
say "what the gateway adds to one page, by size (scripts/bench/per_size.py)"
echo
python3 "$HELPERS/per_size.py" "$BIN" --scale "$SCALE"

# Goal 4 again with the columns in turn (scripts/bench/rounds.py): the rows above run minutes apart,
# and the shared machine drifts between them; in rounds a drift falls on every column.
if [ "$ROUNDS" -gt 0 ]; then
  say "goal 4 in $ROUNDS rounds: direct, nginx, (c) and (c1) in turn (scripts/bench/rounds.py)"
  python3 "$HELPERS/rounds.py" "$BIN" "$LOAD" --rounds "$ROUNDS" --seconds 10 --connections "$CONNECTIONS" \
    --rate "$RATE" --vary "$VARY" --scale "$SCALE" --nginx "$NGINX"
fi

if [ "$PACING" = 1 ]; then
  say "pacing: budget 150 / 30 s, 600 distinct partner reads (scripts/bench/pacing.py)"
  echo
  python3 "$HELPERS/pacing.py" "$BIN"
fi
