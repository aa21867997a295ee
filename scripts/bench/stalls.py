#!/usr/bin/env python3
"""Partner requests stalled by the gateway's background work. Starts the emulator and `serve` (change
scan every --interval-ms), runs an open loop of distinct partner list pages (`examples/load.rs --rate
--vary 1..200 --slow`), and prints, per scan (from the scanner's own log line), the requests that ran
slower than --slow-ms while it ran and the slowest of them, then the slowest request outside any scan.
Loopback only; every process it starts is stopped. Standard library only.

usage: stalls.py BINARY LOAD [--scale 500] [--seconds 45] [--rate 200] [--interval-ms 10000] [--slow-ms 8]
"""
import argparse
import datetime
import json
import os
import subprocess
import tempfile
import time

import coldstart


def unix(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("load")
    ap.add_argument("--scale", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=45)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--interval-ms", type=int, default=10000)
    ap.add_argument("--slow-ms", type=int, default=8)
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="stalls-")
    procs = []
    try:
        log = os.path.join(tmp.name, "gateway.log")
        _, gready, gw, token = coldstart.emulator_and_gateway(
            a.binary, a.scale, tmp.name, "stalls",
            {"ATS_GATEWAY_LOG_FORMAT": "json", "ATS_GATEWAY__CACHE__RESPONSE_TTL_MS": "0",
             "ATS_GATEWAY__CHANGES__SCAN_INTERVAL_MS": str(a.interval_ms)}, procs, log)
        base = gready["gateway"]
        t0 = time.time()
        run = subprocess.run([a.load, base + "/v1/recruiting-requests?page_size={n}", "--token", token,
                              "--rate", str(a.rate), "--seconds", str(a.seconds), "--vary", "1..200",
                              "--slow", str(a.slow_ms)], capture_output=True, text=True, check=True)
        summary = json.loads(run.stdout)
        slow = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
        gw.stop()
        scans = []
        with open(log) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                fields = rec.get("fields", {})
                if "upstream_calls" in fields and str(fields.get("message", "")).startswith("changes scan"):
                    end = unix(rec["timestamp"])
                    scans.append((end - fields["duration_ms"] / 1000, end, fields))
    finally:
        # The gateway before the emulator it reads from.
        for p in reversed(procs):
            p.stop()
        tmp.cleanup()

    print(f"scale {a.scale}, open loop {a.rate} req/s for {a.seconds} s, distinct pages, cache off, "
          f"a scan every {a.interval_ms} ms: p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
          f"max {summary['max_ms']} ms, statuses {summary['statuses']}")
    during = set()
    for i, (start, end, fields) in enumerate(scans, 1):
        # A request that started up to 50 ms before the scan may still have waited on it.
        hit = [r for r in slow if start - 0.05 <= r["at"] <= end]
        during.update(id(r) for r in hit)
        worst = max((r["slow_ms"] for r in hit), default=0.0)
        print(f"scan {i}: {fields['upstream_calls']} calls, {fields['duration_ms']} ms: {len(hit)} requests over "
              f"{a.slow_ms} ms, slowest {worst:.1f} ms")
    outside = sorted((r for r in slow if id(r) not in during), key=lambda r: -r["slow_ms"])
    worst = ", ".join(f"{r['slow_ms']:.1f} ms at +{r['at'] - t0:.2f} s" for r in outside[:5])
    print(f"outside scans: {len(outside)} requests over {a.slow_ms} ms"
          + (f"; the slowest (from the open loop's start): {worst}" if worst else ""))


if __name__ == "__main__":
    main()
