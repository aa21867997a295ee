#!/usr/bin/env python3
"""Cost of the sandbox emulator at benchmark scale: seconds to seed, resident memory, and the time
of one page of recruiting requests (the gateway's list query) at the first, middle and last page
and with a company filter. Starts `ats-gateway emulator` itself; standard library only.

usage: emulator_scale.py BINARY [--scale N] [--pages N]
"""
import argparse
import json
import statistics
import subprocess
import time
import urllib.request

import coldstart

SET = "mshr_hcmrecruitingrequestentities"
SELECT = ("mshr_hcmrecruitingrequestentityid,mshr_recruitingrequestid,mshr_dataareaid,"
          "_mshr_dataareaid_id_value,mshr_description,mshr_externaldescription,mshr_status")


def rss_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--scale", type=int, default=100000)
    ap.add_argument("--pages", type=int, default=40)
    a = ap.parse_args()
    t0 = time.monotonic()
    proc = subprocess.Popen([a.binary, "emulator", "--listen", "127.0.0.1:0", "--scale", str(a.scale)],
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline())
        seed_s = time.monotonic() - t0
        dv = ready["dataverse"]
        token = coldstart.emulator_token(dv)

        def get(url):
            req = urllib.request.Request(url, headers={
                "Authorization": "Bearer " + token, "Prefer": "odata.maxpagesize=50"})
            t = time.perf_counter()
            with urllib.request.urlopen(req) as r:
                body = json.load(r)
            return (time.perf_counter() - t) * 1000, body

        def query(extra=""):
            q = f"$select={SELECT}{extra}&$orderby=mshr_recruitingrequestid%20asc,mshr_hcmrecruitingrequestentityid%20asc"
            return f"{dv['org_url']}/api/data/v9.2/{SET}?{q}"

        results = {}
        for name, url in [("all", query()),
                          ("company", query("&$filter=mshr_dataareaid%20eq%20%27usmf%27")),
                          ("status", query("&$filter=mshr_status%20eq%20200000005"))]:
            get(url)  # warm (first use may build an index)
            times, next_url = [], url
            for _ in range(a.pages):
                ms, body = get(next_url)
                times.append(ms)
                next_url = body.get("@odata.nextLink")
                if not next_url:
                    break
            results[name] = (statistics.median(times), max(times))
        print(json.dumps({
            "scale": a.scale,
            "seed_seconds": round(seed_s, 2),
            "rss_mib": round(rss_mib(proc.pid, "VmRSS"), 1),
            "peak_rss_mib": round(rss_mib(proc.pid, "VmHWM"), 1),
            "page_ms": {k: {"median": round(m, 2), "max": round(x, 2)} for k, (m, x) in results.items()},
        }))
    finally:
        coldstart.terminate(proc)


if __name__ == "__main__":
    main()
