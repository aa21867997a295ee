#!/usr/bin/env python3
"""What the gateway adds to one partner list page by page size, with nothing else in flight: the
emulator (service protection lifted) and `serve` (response cache off, no change scan during the
run); for each size, --requests sequential requests on one keep-alive connection straight to the
emulator (the gateway's own upstream query, read from the emulator's request log) and as many
through the gateway, after a warm pass of each. Prints one line per size: median and p90 of each, and the
gateway's added median. Goal 4's open loop (≤ +1 ms p99 added, page sizes 1-200 in turn) is set
by its largest pages: what the gateway adds to a 200-row page is the floor of that p99.
Loopback only; every process it starts is stopped. Standard library only.

usage: per_size.py BINARY [--sizes 1,50,100,200] [--requests 200] [--scale 500]
"""
import argparse
import http.client
import statistics
import tempfile
import time
import urllib.parse

import coldstart


def connection(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def timed(conn, path, headers, n):
    """Milliseconds of `n` sequential GETs of `path` (each answer read in full, 200 required)."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        out.append((time.perf_counter() - t) * 1000)
        if resp.status != 200:
            raise SystemExit(f"{path}: {resp.status} {body[:300]!r}")
    return out


def p90(values):
    return sorted(values)[int(len(values) * 0.9)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--sizes", default="1,50,100,200")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--scale", type=int, default=500)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]
    if not sizes or min(sizes) < 1 or max(sizes) > 200:
        raise SystemExit("--sizes: page sizes between 1 and 200")
    tmp = tempfile.TemporaryDirectory(prefix="per-size-")
    procs = []
    try:
        # No scan during the run: only the requests measured.
        ready, gready, _, token = coldstart.emulator_and_gateway(
            a.binary, a.scale, tmp.name, "per-size", coldstart.QUIET_GATEWAY_ENV, procs)
        emu_token = coldstart.emulator_token(ready["dataverse"])
        gw_conn = connection(gready["gateway"])
        # The gateway's own upstream query for a list page, as the emulator logged it.
        upstream = coldstart.list_query(ready["emulator"], gready["gateway"], token)
        emu_conn = connection(ready["emulator"])
        print(f"scale {a.scale}, {a.requests} sequential requests per size and column, cache off")
        print("| page size | direct median ms | direct p90 | gateway median ms | gateway p90 | added median ms |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            direct = (upstream, {"Authorization": f"Bearer {emu_token}", "Prefer": coldstart.LIST_PREFER.format(n=n)})
            partner = (f"/v1/recruiting-requests?page_size={n}", {"Authorization": f"Bearer {token}"})
            timed(emu_conn, *direct, 20)
            timed(gw_conn, *partner, 20)
            d = timed(emu_conn, *direct, a.requests)
            g = timed(gw_conn, *partner, a.requests)
            dm, gm = statistics.median(d), statistics.median(g)
            print(f"| {n} | {dm:.2f} | {p90(d):.2f} | {gm:.2f} | {p90(g):.2f} | {gm - dm:+.2f} |")
    finally:
        # The gateway before the emulator it reads from.
        for p in reversed(procs):
            p.stop()


if __name__ == "__main__":
    main()
