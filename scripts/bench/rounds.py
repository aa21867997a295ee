#!/usr/bin/env python3
"""Goal 4 in rounds: the direct call, nginx and the gateway take turns on one emulator, so a drift
of the shared machine between two columns (minutes apart in scripts/bench.sh) falls on all of them.

Goal 4 (no two requests alike, response cache off): closed loop, the gateway ≥ 0.9× nginx
`proxy_pass` of the same upstream queries; open loop at --rate req/s, the gateway's p99 ≤ 1 ms over
the direct call. Columns: (a) direct to the emulator, (b) nginx (util.nginx_conf), (c) the gateway,
(c1) the gateway with one worker thread (as nginx runs one worker process). The gateway's change
scan is put off (its cost beside partner traffic is scripts/bench/stalls.py's); (a) and (b) send
the gateway's own upstream query (read from the emulator's request log) and its Prefer.

Each round runs every column's closed loop (--connections, --seconds, page sizes --vary in turn),
then every column's open loop; the columns' order turns by one each round (4 rounds: each column
once in each place). Printed per round and
as the median of the rounds: (c) and (c1) × (b) in req/s, CPU ms per request of each proxy and of
the emulator, and the open loop's p99 added over (a).

With --pin the emulator runs on CPU 0 and everything else (nginx, the gateways, the load generator)
on CPU 1, as when Dataverse is another machine: the closed loop then measures whether a proxy holds
the upstream back, not how the two share one CPU budget (the goal is measured without --pin).

usage: rounds.py BINARY LOAD [--rounds 4] [--seconds 10] [--connections 32] [--rate 200]
                 [--vary 1..200] [--scale 500] [--nginx PATH] [--pin] [--json]
LOAD is the build's examples/load. Loopback only; every process it starts is stopped.
Standard library only.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import coldstart
import util

class Nginx:
    def __init__(self, binary, directory, upstream):
        os.makedirs(directory, exist_ok=True)
        self.port = util.free_port()
        conf = os.path.join(directory, "nginx.conf")
        with open(conf, "w") as f:
            f.write(util.nginx_conf(directory, upstream, self.port))
        log = os.path.join(directory, "error.log")
        self.p = subprocess.Popen([binary, "-e", log, "-p", directory, "-c", conf, "-g", "daemon off;"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.p.poll() is not None:
                raise SystemExit("nginx exited:\n" + open(log).read()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("nginx not listening within 10 s")

    def stop(self):
        coldstart.terminate(self.p)


# CPUs for --pin: (the emulator's, everything else's); None when not pinned.
PIN = None


def pin(pid, cpus):
    """Every thread of `pid` and of its children (nginx's workers) onto `cpus`; threads made later
    inherit it from their parent thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
            children = open(f"/proc/{pid}/task/{tid}/children").read().split()
        except OSError:
            continue
        for child in children:
            pin(int(child), cpus)


def load(binary, url, headers, args):
    cmd = [binary, url, *args]
    if PIN:
        cmd = ["taskset", "-c", ",".join(map(str, sorted(PIN[1]))), *cmd]
    for h in headers:
        cmd += ["--header", h]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"load {url}: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("load")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--vary", default="1..200")
    ap.add_argument("--scale", type=int, default=500)
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--pin", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    global PIN
    if a.pin:
        if len(os.sched_getaffinity(0)) < 2:
            raise SystemExit("--pin needs 2 CPUs")
        first, second = sorted(os.sched_getaffinity(0))[:2]
        PIN = ({first}, {second})
    if not 1 <= a.rounds <= 20 or not 1 <= a.seconds <= 300:
        raise SystemExit("--rounds 1-20, --seconds 1-300")
    tmp = tempfile.TemporaryDirectory(prefix="rounds-")
    procs, nginx = [], None
    try:
        ready = coldstart.emulator(a.binary, a.scale, tmp.name, procs)
        emu_url, emu_pid = ready["emulator"], procs[0].p.pid
        secret = coldstart.partner_secret(a.binary)
        gws = {}
        for name, env in (("c", {}), ("c1", {"ATS_GATEWAY__GATEWAY__WORKER_THREADS": "1"})):
            gready, gw, token = coldstart.gateway(a.binary, ready, os.path.join(tmp.name, name), "rounds",
                                                  secret, dict(coldstart.QUIET_GATEWAY_ENV, **env), procs)
            gws[name] = (gready["gateway"], gw.p.pid, token)
        upstream = coldstart.list_query(emu_url, gws["c"][0], gws["c"][2])
        nginx = Nginx(a.nginx, os.path.join(tmp.name, "nginx"), emu_url[len("http://"):])
        if PIN:
            pin(emu_pid, PIN[0])
            for pid in [nginx.p.pid] + [pid for _, pid, _ in gws.values()]:
                pin(pid, PIN[1])
        emu_token = coldstart.emulator_token(ready["dataverse"])
        direct_headers = [f"Authorization: Bearer {emu_token}", "Prefer: " + coldstart.LIST_PREFER]
        partner_path = "/v1/recruiting-requests?page_size={n}"
        # (key, URL, headers, the proxy's pid)
        columns = [
            ("a", emu_url + upstream, direct_headers, None),
            ("b", f"http://127.0.0.1:{nginx.port}{upstream}", direct_headers, nginx.p.pid),
        ] + [(k, url + partner_path, [f"Authorization: Bearer {token}"], pid)
             for k, (url, pid, token) in gws.items()]
        vary = ["--vary", a.vary]
        # Warm: lookups and labels of every page size, connection pools.
        for _, url, headers, _ in columns:
            load(a.load, url, headers, ["--concurrency", "4", "--seconds", "3", *vary])
        rounds = []
        for r in range(a.rounds):
            order = columns[r % len(columns):] + columns[:r % len(columns)]
            row = {}
            for key, url, headers, pid in order:
                pids = [pid] if pid else []
                cpu0, emu0 = util.cpu(pids), util.cpu([emu_pid])
                res = load(a.load, url, headers,
                           ["--concurrency", str(a.connections), "--seconds", str(a.seconds), *vary])
                cpu1, emu1 = util.cpu(pids), util.cpu([emu_pid])
                n = res["requests"] or 1
                row[key] = {
                    "rps": res["rps"],
                    "bad": util.error_answers(res),
                    "proxy_cpu_ms": 1000 * (cpu1 - cpu0) / n if pid else None,
                    "emulator_cpu_ms": 1000 * (emu1 - emu0) / n,
                }
            for key, url, headers, _ in order:
                res = load(a.load, url, headers, ["--rate", str(a.rate), "--seconds", str(a.seconds), *vary])
                row[key]["p99_ms"] = res["p99_ms"]
                row[key]["bad"] += util.error_answers(res)
            rounds.append(row)
            if not a.json:
                print(f"round {r + 1} of {a.rounds} done", flush=True)
        report(a, rounds)
    finally:
        if nginx:
            nginx.stop()
        # The gateways before the emulator they read from.
        for p in reversed(procs):
            p.stop()


def summary(row):
    """One round's goal-4 figures."""
    out = {}
    for k in ("c", "c1"):
        out[f"{k}_x_nginx"] = row[k]["rps"] / row["b"]["rps"]
    for k in ("b", "c", "c1"):
        out[f"{k}_p99_added_ms"] = row[k]["p99_ms"] - row["a"]["p99_ms"]
    for k in ("b", "c", "c1"):
        out[f"{k}_cpu_ms"] = row[k]["proxy_cpu_ms"]
    for k in ("a", "b", "c", "c1"):
        out[f"{k}_emulator_cpu_ms"] = row[k]["emulator_cpu_ms"]
    out["non_2xx"] = sum(row[k]["bad"] for k in row)
    return out


def report(a, rounds):
    sums = [summary(r) for r in rounds]
    median = {k: statistics.median(s[k] for s in sums) for k in sums[0] if k != "non_2xx"}
    median["non_2xx"] = sum(s["non_2xx"] for s in sums)
    if a.json:
        print(json.dumps({"rounds": rounds, "summaries": sums, "median": median}))
        return
    print()
    pinned = ", the emulator pinned to one CPU and the rest to the other" if a.pin else ""
    print(f"Goal 4 in {a.rounds} rounds (columns in turn, scale {a.scale}, page sizes {a.vary}, cache off, "
          f"no change scan{pinned}): closed loop {a.connections} connections × {a.seconds} s, open loop "
          f"{a.rate} req/s × {a.seconds} s")
    print()
    print("| round | (c) × nginx | (c1) × nginx | p99 added (c) ms | (c1) | (b) nginx "
          "| CPU ms / request (c) | (c1) | (b) | emulator CPU ms / request (a) | (b) | (c) | (c1) "
          "| non-2xx (median row: all rounds) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, s in enumerate(sums + [median]):
        label = str(i + 1) if i < len(sums) else "**median**"
        print(f"| {label} | {s['c_x_nginx']:.2f}× | {s['c1_x_nginx']:.2f}× | {s['c_p99_added_ms']:+.2f} "
              f"| {s['c1_p99_added_ms']:+.2f} | {s['b_p99_added_ms']:+.2f} | {s['c_cpu_ms']:.3f} "
              f"| {s['c1_cpu_ms']:.3f} | {s['b_cpu_ms']:.3f} | {s['a_emulator_cpu_ms']:.2f} "
              f"| {s['b_emulator_cpu_ms']:.2f} | {s['c_emulator_cpu_ms']:.2f} | {s['c1_emulator_cpu_ms']:.2f} "
              f"| {s['non_2xx']} |")
    print()
    print("Goal 4: (c) ≥ 0.90× nginx in the closed loop, p99 added ≤ +1 ms in the open loop (medians).")


if __name__ == "__main__":
    main()
