#!/usr/bin/env python3
"""Where goal 4's closed loop goes: the CPU each process spends per distinct list request, split into
a cost per request and a cost per row, for nginx and the gateway, beside the emulator's and the
load generator's own.

Goal 4's closed loop runs the load generator, the proxy and the emulator on the machine's two CPUs,
so its req/s is bound by the CPU the whole path spends per request, and the ratio of two proxies
is (emulator + nginx + load) / (emulator + gateway + load) per request. This prints each term by
page-size band (no two requests alike within a band: three times as many sizes as connections,
with the upstream calls per 1,000 requests to show it), the straight
line through the bands (CPU per request = fixed + per row × rows), and what the gateway would have
to spend for 0.9× at the goal's mean page (1..200: 100.5 rows).

usage: cpu_model.py BINARY LOAD [--bands 1..100,101..200] [--seconds 10] [--connections 32]
                    [--scale 500] [--nginx PATH] [--json]
LOAD is the build's examples/load. Loopback only; every process it starts is stopped.
Standard library only.
"""
import argparse
import json
import os
import resource
import shutil
import tempfile

import coldstart
import rounds
import util


def band_rows(text):
    lo, hi = (int(x) for x in text.split("..", 1))
    return (lo + hi) / 2


def fit(points):
    """Least squares: (fixed, per row) through (rows, ms) points."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("load")
    ap.add_argument("--bands", default="1..100,101..200")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--scale", type=int, default=500)
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    bands = [b for b in a.bands.split(",") if b]
    for b in bands:
        lo, hi = (int(x) for x in b.split("..", 1))
        # A closed loop's slow pages outlive fast ones: with a band not much wider than the
        # connections, one size is in flight twice and the gateway coalesces it (the upstream
        # calls per 1,000 requests show it).
        if not 1 <= lo <= hi <= 5000 or hi - lo + 1 < 3 * a.connections:
            raise SystemExit(f"band {b}: 1 <= lo <= hi <= 5000 and at least 3 × --connections sizes")
    if len(bands) < 2 or not 1 <= a.seconds <= 300:
        raise SystemExit("at least two bands; --seconds 1-300")
    tmp = tempfile.TemporaryDirectory(prefix="cpu-model-")
    procs, nginx = [], None
    try:
        ready = coldstart.emulator(a.binary, a.scale, tmp.name, procs)
        emu_url, emu_pid = ready["emulator"], procs[0].p.pid
        gready, gw, token = coldstart.gateway(a.binary, ready, os.path.join(tmp.name, "c"), "cpu-model",
                                              coldstart.partner_secret(a.binary),
                                              dict(coldstart.QUIET_GATEWAY_ENV), procs)
        upstream = coldstart.list_query(emu_url, gready["gateway"], token)
        nginx = rounds.Nginx(a.nginx, os.path.join(tmp.name, "nginx"), emu_url[len("http://"):])
        direct = [f"Authorization: Bearer {coldstart.emulator_token(ready['dataverse'])}",
                  "Prefer: " + coldstart.LIST_PREFER]
        columns = [
            ("nginx", f"http://127.0.0.1:{nginx.port}{upstream}", direct, nginx.p.pid),
            ("gateway", gready["gateway"] + "/v1/recruiting-requests?page_size={n}",
             [f"Authorization: Bearer {token}"], gw.p.pid),
        ]
        results = {name: [] for name, *_ in columns}
        for band in bands:
            for name, url, headers, pid in columns:
                vary = ["--vary", band]
                rounds.load(a.load, url, headers, ["--concurrency", "4", "--seconds", "2", *vary])
                calls0 = sum(coldstart.get_json(emu_url + "/_sandbox/stats")["requests"].values())
                cpu0, emu0, load0 = util.cpu([pid]), util.cpu([emu_pid]), children_cpu()
                res = rounds.load(a.load, url, headers,
                                  ["--concurrency", str(a.connections), "--seconds", str(a.seconds), *vary])
                cpu1, emu1, load1 = util.cpu([pid]), util.cpu([emu_pid]), children_cpu()
                calls1 = sum(coldstart.get_json(emu_url + "/_sandbox/stats")["requests"].values())
                n = res["requests"] or 1
                results[name].append({
                    "band": band,
                    "rows": band_rows(band),
                    "rps": res["rps"],
                    "proxy_ms": 1000 * (cpu1 - cpu0) / n,
                    "emulator_ms": 1000 * (emu1 - emu0) / n,
                    "load_ms": 1000 * (load1 - load0) / n,
                    # Coalesced identical reads would make the gateway's column cheaper upstream.
                    "upstream_per_1000": 1000 * (calls1 - calls0) / n,
                    "non_2xx": util.error_answers(res),
                })
        report(a, results)
    finally:
        if nginx:
            nginx.stop()
        for p in reversed(procs):
            p.stop()


def report(a, results):
    mean_rows = 100.5
    model = {}
    for name, rows in results.items():
        model[name] = {k: fit([(r["rows"], r[k]) for r in rows]) for k in ("proxy_ms", "emulator_ms", "load_ms")}
    at = {name: {k: f + s * mean_rows for k, (f, s) in m.items()} for name, m in model.items()}
    n, g = at["nginx"], at["gateway"]
    # 0.9 × nginx's req/s on the shared CPUs: (E + G + L_g) = (E + N + L_n) / 0.9.
    needed = (n["emulator_ms"] + n["proxy_ms"] + n["load_ms"]) / 0.9 - g["emulator_ms"] - g["load_ms"]
    predicted = (n["emulator_ms"] + n["proxy_ms"] + n["load_ms"]) / (
        g["emulator_ms"] + g["proxy_ms"] + g["load_ms"])
    if a.json:
        print(json.dumps({"results": results, "model": model, "at_mean_page": at,
                          "gateway_ms_needed_for_0_9": needed, "predicted_ratio": predicted}))
        return
    print()
    print(f"CPU ms per request by page-size band (closed loop, {a.connections} connections × {a.seconds} s "
          f"per band, scale {a.scale}, cache off, no change scan)")
    print()
    print("| band | rows (mean) | nginx req/s | gateway req/s | nginx CPU | gateway CPU | emulator (nginx's / gateway's) "
          "| load generator (nginx's / gateway's) | upstream calls / 1,000 (nginx / gateway) | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rn, rg in zip(results["nginx"], results["gateway"]):
        print(f"| {rn['band']} | {rn['rows']:.1f} | {rn['rps']:,.0f} | {rg['rps']:,.0f} | {rn['proxy_ms']:.3f} "
              f"| {rg['proxy_ms']:.3f} | {rn['emulator_ms']:.3f} / {rg['emulator_ms']:.3f} "
              f"| {rn['load_ms']:.3f} / {rg['load_ms']:.3f} "
              f"| {rn['upstream_per_1000']:,.1f} / {rg['upstream_per_1000']:,.1f} | {rn['non_2xx'] + rg['non_2xx']} |")
    print()
    print("| CPU per request = fixed + per row × rows | fixed ms | per row µs | at 100.5 rows, ms |")
    print("|---|---:|---:|---:|")
    for name, m in model.items():
        for k, label in (("proxy_ms", name), ("emulator_ms", f"emulator, answering {name}"),
                         ("load_ms", f"load generator, reading {name}")):
            f, s = m[k]
            print(f"| {label} | {f:.3f} | {1000 * s:.2f} | {f + s * mean_rows:.3f} |")
    print()
    print(f"At the goal's mean page the shared-CPU model predicts the gateway at {predicted:.2f}× nginx; "
          f"0.9× needs the gateway at {needed:.3f} ms per request (it spends {g['proxy_ms']:.3f}).")


if __name__ == "__main__":
    main()
