#!/usr/bin/env python3
"""Small helpers for scripts/bench.sh (standard library only).

  util.py json TEXT|- PATH        a field of a JSON document (dotted path); exit 1 when absent
  util.py port                    a free loopback TCP port
  util.py rss PID FIELD           VmRSS / VmHWM of a process, MiB
  util.py metric NAME < metrics   sum of a Prometheus counter over its labels (0 when absent)
  util.py wrk COLUMN FILE CALLS PID   one result line (JSON) from wrk --latency output
  util.py cpu PID...              CPU seconds (user + system) of the processes and their children
  util.py distinct COLUMN RUN BEFORE AFTER [CPU_BEFORE CPU_AFTER [EMU_BEFORE EMU_AFTER]]
                                  one goal-4 result line (JSON): load.rs output, upstream calls by
                                  table from two /_sandbox/stats snapshots, CPU of proxy and emulator
  util.py table RESULTS [options] the side-by-side table (Markdown)
  util.py nginx-conf DIR UPSTREAM PORT
                                  the plain proxy's nginx.conf: one worker, proxy_pass to UPSTREAM
                                  (host:port) over keep-alive, listening on 127.0.0.1:PORT
"""
import json
import re
import socket
import sys


def field(doc, path):
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def rss(pid, name):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(text):
    out = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            out[f"p{pct}"] = ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return out


def table(path, opts):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    held = json.loads(opts.get("held") or "{}")
    lines = [
        f"Scale {opts['scale']} (seeded in {opts['seed-seconds']} s), {opts['connections']} connections, "
        f"{opts['duration']} s per column, {opts['machine']}.",
        "",
        "| | req/s | p50 ms | p99 ms | non-2xx | gateway peak RSS MiB | upstream calls / 1,000 requests |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        def num(k, fmt):
            v = r.get(k)
            return fmt.format(v) if v is not None else "–"
        per_k = (1000 * r["calls"] / r["requests"]) if r.get("requests") else None
        lines.append(
            f"| ({r['column']} | {num('rps', '{:.0f}')} | {num('p50', '{:.2f}')} | {num('p99', '{:.2f}')} "
            f"| {r.get('non2xx', 0) + r.get('socket_errors', 0)} | {num('peak_rss', '{:.1f}')} "
            f"| {'{:.1f}'.format(per_k) if per_k is not None else '–'} |")
    lines.append("")
    paced = [json.loads(line) for line in open(opts["paced"]) if line.strip()] if opts.get("paced") else []
    if paced:
        base = next((r["p99_ms"] for r in paced if r["column"].startswith("a)")), None)
        lines += [
            f"Open loop at {opts.get('rate')} req/s for {opts['duration']} s (latency from the scheduled start):",
            "",
            "| | requests | p50 ms | p99 ms | max ms | p99 added over (a) ms | non-2xx |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in paced:
            bad = error_answers(r)
            added = f"{r['p99_ms'] - base:+.2f}" if base is not None and not r["column"].startswith("a)") else "–"
            lines.append(
                f"| ({r['column']} | {r['requests']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} "
                f"| {added} | {bad} |")
        lines.append("")
    lines += distinct_tables(opts)
    if held:
        lines.append(
            f"Gateway (cache on) with {held.get('open', 0)} open partner connections: "
            f"RSS {held.get('rss_mib', 0):.1f} MiB (peak {held.get('peak_rss_mib', 0):.1f} MiB).")
    lines.append(f"Upstream (Entra) token requests during the cache-on run, after warm-up: {opts.get('tokens', '?')}.")
    if opts.get("note"):
        lines.append(f"Note: {opts['note']}.")
    print("\n".join(lines))


def distinct_tables(opts):
    """No two requests alike, closed loop then open loop."""
    def rows(key):
        path = opts.get(key)
        return [json.loads(line) for line in open(path) if line.strip()] if path else []
    closed, paced = rows("distinct"), rows("distinct-paced")

    def num(r, k):
        return f"{r[k]:.3f}" if r.get(k) is not None else "–"
    if not closed and not paced:
        return []
    lines = []
    if closed:
        nginx = next((r["rps"] for r in closed if r["column"].startswith("b)")), None)
        lines += [
            f"Goal 4, no two requests alike (page sizes {opts.get('vary')} in turn, cache off), closed loop "
            f"at {opts['connections']} connections (goal: (c) ≥ 0.9× (b)):",
            "",
            "| | req/s | × nginx | p50 ms | p99 ms | non-2xx | upstream calls / 1,000 requests | of which not the list "
            "| proxy CPU ms / request | emulator CPU ms / request |",
            "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for r in closed:
            n = r["requests"] or 1
            ratio = f"{r['rps'] / nginx:.2f}×" if nginx else "–"
            others = ", ".join(f"{t} {1000 * c / n:.1f}" for t, c in r["others"].items()) or "–"
            lines.append(
                f"| ({r['column']} | {r['rps']:.0f} | {ratio} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['bad']} "
                f"| {1000 * r['calls'] / n:.1f} | {others} "
                f"| {num(r, 'proxy_cpu_ms')} | {num(r, 'emulator_cpu_ms')} |")
        lines.append("")
    if paced:
        base = next((r["p99_ms"] for r in paced if r["column"].startswith("a)")), None)
        lines += [
            f"Goal 4, no two requests alike, open loop at {opts.get('rate')} req/s for {opts['duration']} s "
            "(goal: (c) adds ≤ 1 ms p99 over (a)):",
            "",
            "| | requests | p50 ms | p99 ms | max ms | p99 added over (a) ms | non-2xx |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in paced:
            bad = error_answers(r)
            added = f"{r['p99_ms'] - base:+.2f}" if base is not None and not r["column"].startswith("a)") else "–"
            lines.append(
                f"| ({r['column']} | {r['requests']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} "
                f"| {added} | {bad} |")
        lines.append("")
    return lines


def cpu(pids):
    """CPU seconds of `pids` and their direct children (nginx's worker is its master's child)."""
    import os
    ticks = os.sysconf("SC_CLK_TCK")
    wanted, total = {str(p) for p in pids if p}, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid (index 1), …, utime (11), stime (12).
        if entry in wanted or fields[1] in wanted:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def distinct(column, run, before, after, cpu_before=None, cpu_after=None, emu_before=None, emu_after=None):
    r = json.load(open(run))
    b, a = json.load(open(before))["requests"], json.load(open(after))["requests"]
    delta = {t: a.get(t, 0) - b.get(t, 0) for t in a}
    delta = {t: c for t, c in delta.items() if c}
    # The list's own table is the busiest; everything else is what the gateway adds.
    main_target = max(delta, key=delta.get) if delta else None
    r.update({
        "column": column,
        "calls": sum(delta.values()),
        "others": {t: c for t, c in sorted(delta.items()) if t != main_target},
        "bad": error_answers(r),
    })
    # CPU per request: repeatable on a shared machine where req/s and latency are not.
    n = r["requests"] or 1
    if cpu_before not in (None, "", "-") and cpu_after not in (None, "", "-"):
        r["proxy_cpu_ms"] = 1000 * (float(cpu_after) - float(cpu_before)) / n
    if emu_before not in (None, "", "-") and emu_after not in (None, "", "-"):
        r["emulator_cpu_ms"] = 1000 * (float(emu_after) - float(emu_before)) / n
    return r



def error_answers(result):
    """Answers of a load.rs result outside 2xx/3xx."""
    return sum(v for k, v in result.get("statuses", {}).items() if not 200 <= int(k) < 400)


def free_port():
    """A loopback TCP port free right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nginx_conf(directory, upstream, port):
    """The plain proxy the gateway is compared with: one worker process (less CPU per request than
    more, on a machine the emulator and the load share), no access log, keep-alive upstream."""
    d = directory
    return f'''worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream emulator {{ server {upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://emulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
'''


def gateway_toml(emu_url, dv, state_dir, partner, secret_hash, gateway_extra="", extra=""):
    """A gateway config for a bench: loopback listeners, the emulator as Dataverse, one partner with
    every company and no practical rate limit; `gateway_extra` joins [gateway], `extra` ends the file."""
    return f'''[gateway]
listen = "127.0.0.1:0"
ops_listen = "127.0.0.1:0"
{gateway_extra}
[dataverse]
org_url = "{emu_url}"
authority = "{emu_url}"
tenant_id = "{dv['tenant_id']}"
client_id = "{dv['client_id']}"
client_secret = "{dv['client_secret']}"

[state]
path = "{state_dir}"

[[auth.partners]]
id = "{partner}"
client_id = "{partner}"
client_secret_hashes = ["{secret_hash}"]
scopes = ["recruiting-requests:read"]
companies = ["*"]
rate_limit = {{ per_second = 1000000, burst = 1000000 }}
{extra}'''

def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "json":
        text = sys.stdin.read() if args[0] == "-" else args[0]
        v = field(json.loads(text), args[1])
        if v is None:
            sys.exit(1)
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "port":
        print(free_port())
    elif cmd == "rss":
        v = rss(args[0], args[1])
        print(f"{v:.1f}" if v is not None else "?")
    elif cmd == "metric":
        total = 0.0
        for line in sys.stdin:
            if line.startswith(args[0] + "{") or line.startswith(args[0] + " "):
                total += float(line.rsplit(None, 1)[1])
        print(f"{total:g}")
    elif cmd == "wrk":
        column, path, calls, pid = args
        r = parse_wrk(open(path).read())
        r.update({"column": column, "calls": int(calls)})
        if pid:
            r["peak_rss"] = rss(pid, "VmHWM")
        print(json.dumps(r))
    elif cmd == "cpu":
        print(f"{cpu(args):.2f}")
    elif cmd == "distinct":
        print(json.dumps(distinct(*args)))
    elif cmd == "gateway-toml":
        # The emulator's ready line on stdin; args: state dir, partner id, secret hash, [gateway] extra.
        ready = json.loads(sys.stdin.read())
        state, partner, secret_hash = args[:3]
        extra = args[3] + "\n" if len(args) > 3 else ""
        sys.stdout.write(gateway_toml(ready["emulator"], ready["dataverse"], state, partner, secret_hash,
                                      gateway_extra=extra))
    elif cmd == "nginx-conf":
        sys.stdout.write(nginx_conf(*args))
    elif cmd == "table":
        opts, i = {}, 1
        while i < len(args):
            opts[args[i].lstrip("-")] = args[i + 1]
            i += 2
        table(args[0], opts)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
