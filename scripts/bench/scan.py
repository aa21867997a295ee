#!/usr/bin/env python3
"""What a changes scan costs Dataverse, at scale 500 and 100,000 side by
side: Dataverse calls per scan, seconds per scan, and the scanner's share of the application user's
budget (6,000 requests per 5 minutes). "before" is the baseline recorded before the scan was
reworked (same machine, release build); "after" is measured live.

It starts `ats-gateway sandbox` (emulator + gateway, JSON logs) per scale, waits for the baseline
scan (the first, which records every fingerprint) and reports the next one, the steady state, from
the scanner's own log line (`upstream_calls`, `duration_ms`, `budget_share`); the calls are checked
against the emulator's request count. Standard library only.

usage: scan.py BINARY [--scales 500,100000] [--timeout SECONDS]
"""
import argparse
import json
import os
import subprocess
import tempfile
import threading
import urllib.request

import coldstart

# Before: measured with this script on 9bc411c (page size 200, no budget share), release build,
# this machine, 2026-12-04; the steady scan (the one after the baseline).
BEFORE = {
    500: {"calls": 5, "seconds": 0.10, "baseline_calls": 50, "baseline_seconds": 0.15},
    100000: {"calls": 502, "seconds": 28.6, "baseline_calls": 564, "baseline_seconds": 24.9},
}
# The scan interval the gateway uses by default (`serve`), for the share of the 5-minute budget.
INTERVAL_S = 60
BUDGET = 6000
WINDOW_S = 300
GOALS = {500: (10, None), 100000: (60, 30.0)}


def share_at_default_interval(calls):
    """Share of the budget a scan every INTERVAL_S seconds would take, unpaced."""
    return calls * (WINDOW_S / INTERVAL_S) / BUDGET


def emulator_requests(url):
    """Dataverse requests the emulator has answered since it started."""
    with urllib.request.urlopen(url + "/_sandbox/stats") as r:
        return json.load(r)["total_requests"]


def measure(binary, scale, timeout):
    env = dict(os.environ, ATS_GATEWAY_LOG_FORMAT="json",
               # Scans back to back: the second starts right after the baseline.
               ATS_GATEWAY__CHANGES__SCAN_INTERVAL_MS="500")
    state = tempfile.TemporaryDirectory(prefix="scan-bench-")
    proc = subprocess.Popen(
        [os.path.abspath(binary), "sandbox", "--listen", "127.0.0.1:0", "--emulator-listen", "127.0.0.1:0",
         "--scale", str(scale)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=state.name)
    scans, done = [], threading.Event()

    def read_logs():
        for line in proc.stderr:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            fields = rec.get("fields", rec)
            # The scan's own line (complete or not); the lease and pause lines carry no counts.
            if "upstream_calls" in fields and str(fields.get("message", "")).startswith("changes scan"):
                scans.append(fields)
                if len(scans) >= 2:
                    done.set()
        done.set()

    threading.Thread(target=read_logs, daemon=True).start()
    try:
        ready = json.loads(proc.stdout.readline())
        emu = ready.get("emulator") or ready["dataverse"]["org_url"]
        if not done.wait(timeout):
            raise SystemExit(f"scale {scale}: no second scan within {timeout} s")
        if len(scans) < 2:
            raise SystemExit(f"scale {scale}: the sandbox stopped: {scans}")
        steady = scans[1]
        return {
            "calls": int(steady["upstream_calls"]),
            "seconds": int(steady["duration_ms"]) / 1000,
            "baseline_calls": int(scans[0]["upstream_calls"]),
            "baseline_seconds": int(scans[0]["duration_ms"]) / 1000,
            "budget_share": float(steady.get("budget_share", 0.0)),
            "emulator_requests": emulator_requests(emu),
        }
    finally:
        coldstart.terminate(proc)
        state.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--scales", default="500,100000")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    a = ap.parse_args()
    scales = [int(s) for s in a.scales.split(",")]
    after = {s: measure(a.binary, s, a.timeout) for s in scales}
    if a.json:
        print(json.dumps({"before": BEFORE, "after": after}))
        return
    print(f"{'':34}" + "".join(f"{'scale ' + str(s):>26}" for s in scales))
    print(f"{'':34}" + "".join(f"{'before':>13}{'after':>13}" for _ in scales))

    def row(name, fmt, get_before, get_after):
        cells = ""
        for s in scales:
            b = BEFORE.get(s)
            cells += f"{(fmt(get_before(b)) if b else '-'):>13}{fmt(get_after(after[s])):>13}"
        print(f"{name:34}{cells}")

    row("Dataverse calls per scan", str, lambda b: b["calls"], lambda x: x["calls"])
    row("seconds per scan", lambda v: f"{v:.2f}", lambda b: b["seconds"], lambda x: x["seconds"])
    row("baseline (first) scan: calls", str, lambda b: b["baseline_calls"],
        lambda x: x["baseline_calls"])
    row("baseline (first) scan: seconds", lambda v: f"{v:.2f}", lambda b: b["baseline_seconds"],
        lambda x: x["baseline_seconds"])
    row(f"budget share, a scan per {INTERVAL_S} s", lambda v: f"{100 * v:.1f} %",
        lambda b: share_at_default_interval(b["calls"]),
        lambda x: share_at_default_interval(x["calls"]))
    row("budget share (metric, this run)", lambda v: v if isinstance(v, str) else f"{100 * v:.2f} %",
        lambda b: "-", lambda x: x["budget_share"])
    for s in scales:
        calls_max, secs_max = GOALS.get(s, (None, None))
        x = after[s]
        ok = (calls_max is None or x["calls"] <= calls_max) and (secs_max is None or x["seconds"] <= secs_max)
        goal = f"≤ {calls_max} calls" + (f", ≤ {secs_max:.0f} s" if secs_max else "")
        print(f"scale {s}: goal {goal}: {'met' if ok else 'NOT met'}"
              f" (the emulator answered {x['emulator_requests']} Dataverse requests since start)")
    print("The scanner paces itself to [changes] max_budget_share (default 10 %) of the budget and "
          "yields to partner calls queued at the upstream cap.")


if __name__ == "__main__":
    main()
