#!/usr/bin/env bash
# A local ats-gateway cluster without containers, on loopback: one emulator (playing Entra and
# Dataverse), Postgres (durable state), Redis (shared limits), N `serve` replicas and nginx balancing them.
#
#   scripts/cluster.sh up [--replicas N]     start everything (default 3 replicas); prints one JSON ready line
#   scripts/cluster.sh status                each part: pid, alive, URL (replicas: their /readyz)
#   scripts/cluster.sh down                  stop exactly what `up` started (pid files), remove the run dir
#   scripts/cluster.sh replica restart|stop|start I
#                                            one replica (1-based): SIGTERM (graceful drain), started again,
#                                            waiting for its /readyz
#
# Run dir: $ATS_CLUSTER_DIR (default target/cluster). Binary: $ATS_GATEWAY_BIN (default target/debug/ats-gateway,
# built with cargo when missing). Needs the Debian packages postgresql, redis-server and nginx, python3, openssl, curl.
# nginx OSS has no active health checks (those are nginx Plus): the balancer marks a replica failed when a
# connection to it fails (max_fails/fail_timeout, passive) and passes a GET to the next one (proxy_next_upstream).
# That is enough for a rolling restart to drop nothing: a stopping replica closes its listener at once (refused ->
# next replica) and finishes what it was answering (measured by scripts/cluster-rolling.sh: 0 errors).
# ATS_CLUSTER_ROTATE=1 makes `replica restart` also take the replica out of the upstream (nginx reload) before the
# SIGTERM and back after its /readyz, as a Kubernetes endpoints controller does; but an nginx reload closes the
# clients' idle keep-alive connections, which clients that do not retry see as resets (32 of 495 requests).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=${ATS_CLUSTER_DIR:-$ROOT/target/cluster}
BIN=${ATS_GATEWAY_BIN:-$ROOT/target/debug/ats-gateway}

die() { echo "cluster.sh: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
# A free loopback port (the kernel's choice; taken by the part started next).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$d/pg_ctl" ] || die "PostgreSQL is not installed (apt-get install postgresql)"
  echo "$d"
}
# Postgres refuses to run as root: as root, its tools run as the postgres user.
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
# Waits (bounded) until "$@" succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "$what not ready within ${secs}s (logs in $RUN)"
    sleep 0.2
  done
}
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }
redis_ping() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING\r\n' >&3
  local line
  read -r -t 2 line <&3 || true
  exec 3>&-
  [[ $line == +PONG* ]]
}
# A part started in the background: its own session (no terminal signal reaches it), output to files, pid file.
spawn() {
  local name=$1; shift
  setsid "$@" >"$RUN/$name.out" 2>"$RUN/$name.log" </dev/null &
  echo $! >"$RUN/$name.pid"
}

replicas_n() { cat "$RUN/replicas" 2>/dev/null || echo 0; }

# The upstream block: every replica but those listed in $RUN/out-of-rotation.
write_upstream() {
  local n i port
  n=$(replicas_n)
  {
    echo "upstream ats_gateway {"
    for i in $(seq 1 "$n"); do
      port=$(cat "$RUN/replica-$i/port")
      if grep -qx "$i" "$RUN/out-of-rotation" 2>/dev/null; then
        echo "  server 127.0.0.1:$port down;"
      else
        echo "  server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"
      fi
    done
    echo "  keepalive 32;"
    echo "}"
  } >"$RUN/nginx/upstream.conf"
}
nginx_reload() { nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -s reload; }

start_replica() {
  local i=$1 dir="$RUN/replica-$i"
  mkdir -p "$dir/state"
  : >"$RUN/replica-$i.out"
  # Each replica has its own state directory (unused with Postgres, where all durable state lives).
  ATS_GATEWAY__STATE__PATH="$dir/state" RUST_LOG=${RUST_LOG:-info} spawn "replica-$i" \
    "$BIN" --config "$RUN/gateway.toml" serve --listen "127.0.0.1:$(cat "$dir/port")" \
    --ops-listen "127.0.0.1:$(cat "$dir/ops_port")"
  wait_for "replica $i" 60 grep -q '"event":"ready"' "$RUN/replica-$i.out"
  wait_for "replica $i /readyz" 60 http_ok "http://127.0.0.1:$(cat "$dir/ops_port")/readyz"
}

# SIGTERM: readiness turns false, the listener closes, requests in flight finish (gateway.shutdown_grace_ms).
stop_pid() {
  local pid=$1 secs=${2:-30}
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local end=$((SECONDS + secs))
  while alive "$pid" && [ $SECONDS -lt $end ]; do sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
}

# `up` failed half-way: keep the logs (in $RUN.failed) and stop what started.
up_failed() {
  rm -rf "$RUN.failed" && mkdir -p "$RUN.failed"
  cp "$RUN"/*.log "$RUN"/*.out "$RUN.failed/" 2>/dev/null || true
  echo "cluster.sh: up failed; logs in $RUN.failed; stopping what started" >&2
  cmd_down >/dev/null 2>&1 || true
}

cmd_up() {
  local n=3
  while [ $# -gt 0 ]; do
    case $1 in
      --replicas) n=${2:?--replicas N}; shift 2 ;;
      --replicas=*) n=${1#*=}; shift ;;
      *) die "up: unknown argument $1" ;;
    esac
  done
  [[ $n =~ ^[1-9][0-9]?$ ]] || die "--replicas takes 1..99"
  if [ -f "$RUN/replicas" ]; then die "already up (scripts/cluster.sh status; down first)"; fi
  for tool in python3 openssl curl redis-server nginx; do
    command -v $tool >/dev/null || die "$tool is not installed"
  done
  [ -x "$BIN" ] || cargo build --locked --quiet --bin ats-gateway
  mkdir -p "$RUN"
  echo "$n" >"$RUN/replicas"
  # From here on, a failure stops what was started.
  trap up_failed EXIT

  # The emulator.
  local emu_port; emu_port=$(free_port)
  spawn emulator "$BIN" emulator --listen "127.0.0.1:$emu_port"
  wait_for emulator 30 grep -q '"event":"ready"' "$RUN/emulator.out"
  head -1 "$RUN/emulator.out" >"$RUN/emulator.json"

  # Postgres: its own data directory (under /tmp when root, as the postgres user must own every directory above it).
  local pg_port pgdir bin
  bin=$(pg_bin)
  pg_port=$(free_port)
  if is_root; then
    pgdir=$(mktemp -d /tmp/ats-cluster-pg.XXXXXX)
    chown postgres:postgres "$pgdir"
  else
    pgdir="$RUN/postgres"
    mkdir -p "$pgdir"
  fi
  echo "$pgdir" >"$RUN/postgres.dir"
  as_pg "$bin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --no-sync >"$RUN/postgres-initdb.log" 2>&1
  as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -t 30 start \
    -o "-p $pg_port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200" >"$RUN/postgres.log" 2>&1
  head -1 "$pgdir/data/postmaster.pid" >"$RUN/postgres.pid"
  local pg_url="postgres://postgres@127.0.0.1:$pg_port/postgres"

  # Redis: its own directory, no persistence (limits and counters only).
  local redis_port; redis_port=$(free_port)
  mkdir -p "$RUN/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$RUN/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$RUN/redis/redis.log"
  wait_for redis 10 redis_ping "$redis_port"
  local redis_url="redis://127.0.0.1:$redis_port"

  # Keys every replica shares: token signing, cursor sealing, webhook secret sealing.
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$RUN/signing-key.pem" 2>/dev/null
  chmod 600 "$RUN/signing-key.pem"
  local lb_port; lb_port=$(free_port)
  local lb="http://127.0.0.1:$lb_port"
  python3 - "$RUN" "$BIN" "$lb" "$pg_url" "$redis_url" "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" <<'EOF'
import json, subprocess, sys
run, binary, lb, pg_url, redis_url, cursor_key, webhook_key = sys.argv[1:]
dv = json.loads(open(f"{run}/emulator.json").read())["dataverse"]
# The sandbox's demo partners (README "The partner API on the sandbox"), with their demo secrets.
partners = [
    ("acme-ats", "acme-demo-secret", ["recruiting-requests:read", "candidates:read", "candidates:write",
     "reference:read", "changes:read", "webhooks:manage", "pii:read"], ["usmf", "gbsi"], (50, 100)),
    ("nordic-hr", "nordic-demo-secret", ["recruiting-requests:read", "reference:read", "candidates:read"],
     ["nomf"], (20, 40)),
    ("nordic-watch", "nordic-watch-demo-secret", ["changes:read", "webhooks:manage"], ["nomf"], (20, 40)),
    ("tiny-board", "tiny-demo-secret", ["reference:read"], ["usmf"], (1, 2)),
]
q = json.dumps
toml = f"""# Written by scripts/cluster.sh: the local cluster's replicas (one file, shared; state.path per replica by env).
[gateway]
public_url = {q(lb)}
cursor_key = {q(cursor_key)}
# A restart in the rolling test waits for this at most.
shutdown_grace_ms = 10000

[dataverse]
org_url = {q(dv["org_url"])}
authority = {q(dv["org_url"])}
tenant_id = {q(dv["tenant_id"])}
client_id = {q(dv["client_id"])}
client_secret = {q(dv["client_secret"])}

[state]
url = {q(pg_url)}

[changes]
scan_interval_ms = 2000

[webhooks]
allow_private_urls = true
secret_key = {q(webhook_key)}

[auth]
issuer = {q(lb)}
signing_key_file = {q(run + "/signing-key.pem")}
"""
ready_partners = []
for pid, secret, scopes, companies, (rate, burst) in partners:
    out = subprocess.run([binary, "partner-secret", "--stdin"], input=secret + "\n", capture_output=True,
                         text=True, check=True)
    h = json.loads(out.stdout)["client_secret_hash"]
    toml += f"""
[[auth.partners]]
id = {q(pid)}
client_id = {q(pid)}
client_secret_hashes = [{q(h)}]
scopes = {q(scopes)}
companies = {q(companies)}
rate_limit = {{ per_second = {rate}, burst = {burst} }}
"""
    ready_partners.append({"id": pid, "client_id": pid, "client_secret": secret, "scopes": scopes,
                           "companies": companies})
with open(f"{run}/gateway.toml", "w") as f:
    f.write(toml)
with open(f"{run}/partners.json", "w") as f:
    json.dump(ready_partners, f)
EOF
  chmod 600 "$RUN/gateway.toml"
  printf '\n[cluster]\nredis_url = "%s"\nreplicas_hint = %s\n' "$redis_url" "$n" >>"$RUN/gateway.toml"

  # The replicas, one after the other (the first applies the migrations; the others wait on its lock anyway).
  local i
  for i in $(seq 1 "$n"); do
    mkdir -p "$RUN/replica-$i"
    free_port >"$RUN/replica-$i/port"
    free_port >"$RUN/replica-$i/ops_port"
    start_replica "$i"
  done

  # nginx in front: round robin over the replicas.
  mkdir -p "$RUN/nginx/tmp"
  : >"$RUN/out-of-rotation"
  write_upstream
  cat >"$RUN/nginx/nginx.conf" <<EOF
# Written by scripts/cluster.sh.
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  include $RUN/nginx/upstream.conf;
  server {
    listen 127.0.0.1:$lb_port;
    location / {
      proxy_pass http://ats_gateway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      # A replica that refuses the connection or drops it before answering: the next one answers. A request
      # a replica may have acted on (POST) is not sent twice (nginx's default: no non_idempotent).
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 3;
    }
  }
}
EOF
  nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/error.log"
  wait_for nginx 10 http_ok "$lb/openapi.json"
  trap - EXIT

  python3 - "$RUN" "$lb" "$pg_url" "$redis_url" <<'EOF'
import json, sys
run, lb, pg_url, redis_url = sys.argv[1:]
n = int(open(f"{run}/replicas").read())
replicas = [{"gateway": f"http://127.0.0.1:{open(f'{run}/replica-{i}/port').read().strip()}",
             "ops": f"http://127.0.0.1:{open(f'{run}/replica-{i}/ops_port').read().strip()}"} for i in range(1, n + 1)]
emu = json.loads(open(f"{run}/emulator.json").read())
ready = {"event": "ready", "gateway": lb, "replicas": replicas, "emulator": emu["emulator"], "postgres": pg_url,
         "redis": redis_url, "run_dir": run, "partners": json.load(open(f"{run}/partners.json"))}
line = json.dumps(ready, separators=(",", ":"))
open(f"{run}/ready.json", "w").write(line + "\n")
print(line)
EOF
}

cmd_down() {
  [ -d "$RUN" ] || { echo "cluster.sh: not running ($RUN does not exist)"; return 0; }
  local n i pid left=""
  n=$(replicas_n)
  # The balancer first (no new requests), then the replicas (they drain), then what they depend on.
  pid=$(pid_of nginx)
  if alive "$pid"; then nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -s quit 2>/dev/null || kill -TERM "$pid"; fi
  stop_pid "$pid" 15
  for i in $(seq 1 "$n"); do stop_pid "$(pid_of "replica-$i")" 30 & done
  wait
  pid=$(pid_of postgres)
  local pgdir; pgdir=$(cat "$RUN/postgres.dir" 2>/dev/null || true)
  if alive "$pid" && [ -n "$pgdir" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  stop_pid "$pid" 15
  stop_pid "$(pid_of redis)" 10
  stop_pid "$(pid_of emulator)" 10
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if alive "$pid"; then left="$left $(basename "$f" .pid):$pid"; fi
  done
  [ -z "$left" ] || die "still running:$left"
  case $pgdir in /tmp/ats-cluster-pg.*) rm -rf "$pgdir" ;; esac
  rm -rf "$RUN"
  echo "cluster.sh: down"
}

cmd_status() {
  [ -f "$RUN/replicas" ] || { echo "not running"; return 3; }
  local n i pid state code
  n=$(replicas_n)
  line() { printf '%-12s pid %-8s %-6s %s\n' "$1" "${2:--}" "$3" "$4"; }
  st() { if alive "$1"; then echo up; else echo DOWN; fi; }
  pid=$(pid_of emulator); line emulator "$pid" "$(st "$pid")" "$(json_get "$RUN/emulator.json" emulator 2>/dev/null)"
  pid=$(pid_of postgres); line postgres "$pid" "$(st "$pid")" "$(json_get "$RUN/ready.json" postgres 2>/dev/null)"
  pid=$(pid_of redis); line redis "$pid" "$(st "$pid")" "$(json_get "$RUN/ready.json" redis 2>/dev/null)"
  for i in $(seq 1 "$n"); do
    pid=$(pid_of "replica-$i")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$(cat "$RUN/replica-$i/ops_port")/readyz" || true)
    state="readyz $code"
    grep -qx "$i" "$RUN/out-of-rotation" 2>/dev/null && state="$state, out of rotation"
    line "replica-$i" "$pid" "$(st "$pid")" "http://127.0.0.1:$(cat "$RUN/replica-$i/port") ($state)"
  done
  pid=$(pid_of nginx); line nginx "$pid" "$(st "$pid")" "$(json_get "$RUN/ready.json" gateway 2>/dev/null)"
}

cmd_replica() {
  local action=${1:-} i=${2:-}
  [ -f "$RUN/replicas" ] || die "not running"
  [[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$(replicas_n)" ] || die "replica: no replica '$i'"
  case $action in
    stop | restart)
      # ATS_CLUSTER_ROTATE=1: out of rotation first (readiness-driven), so nginx sends it nothing new while it drains.
      if [ -n "${ATS_CLUSTER_ROTATE:-}" ]; then
        echo "$i" >>"$RUN/out-of-rotation"
        write_upstream && nginx_reload
      fi
      stop_pid "$(pid_of "replica-$i")" 30
      ;;
  esac
  case $action in
    start | restart)
      alive "$(pid_of "replica-$i")" || start_replica "$i"
      if grep -qx "$i" "$RUN/out-of-rotation"; then
        grep -vx "$i" "$RUN/out-of-rotation" >"$RUN/out-of-rotation.new" || true
        mv "$RUN/out-of-rotation.new" "$RUN/out-of-rotation"
        write_upstream && nginx_reload
      fi
      ;;
    stop) ;;
    *) die "replica: stop|start|restart I" ;;
  esac
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  replica) shift; cmd_replica "$@" ;;
  *) echo "usage: scripts/cluster.sh up [--replicas N] | down | status | replica restart|stop|start I" >&2; exit 2 ;;
esac
