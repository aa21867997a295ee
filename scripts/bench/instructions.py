#!/usr/bin/env python3
"""User-space instructions per partner request, counted by callgrind: a number that does not move
with the machine's load, for comparing two builds on a shared machine where req/s and CPU time do
(a run repeats to within 0.1 %). Kernel time (socket copies) is not counted.

usage: scripts/bench/instructions.py BINARY [--sizes 1..200 | --sizes 50,50,50] [--scale N]

Starts `BINARY emulator` (service protection lifted) and `BINARY serve` under
`valgrind --tool=callgrind` (response cache off, warm-up and change scans out of the way), on
loopback. One partner reads `GET /v1/recruiting-requests?page_size=N` for each size in turn on one
keep-alive connection: twice to warm caches and pools, then once counted (callgrind_control zeroes
the counters before the pass and dumps them after). Prints one JSON line: instructions per request
and per row, and the dump file for `callgrind_annotate --inclusive=yes`.

Needs valgrind (`apt-get install valgrind`).
"""
import argparse
import glob
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import util
import time
import urllib.parse


def sizes_of(text):
    if ".." in text:
        lo, hi = text.split("..", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(x) for x in text.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--sizes", default="1..200", help="page sizes in turn: A..B or a,b,c (default 1..200)")
    ap.add_argument("--scale", type=int, default=500)
    args = ap.parse_args()
    sizes = sizes_of(args.sizes)
    if not sizes or min(sizes) < 1 or max(sizes) > 200:
        sys.exit("--sizes: page sizes between 1 and 200")
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (apt-get install valgrind)")

    work = tempfile.mkdtemp(prefix="instructions-")
    procs = []

    def start(cmd, env, name, timeout_s):
        out = os.path.join(work, name)
        p = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=open(out + ".err", "w"),
                             env={**os.environ, **env})
        procs.append(p)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with open(out) as f:
                line = f.readline()
            if line.endswith("\n"):
                return p, json.loads(line)
            if p.poll() is not None:
                with open(out + ".err") as f:
                    sys.exit(f"{name} exited:\n{f.read()[-2000:]}")
            time.sleep(0.1)
        sys.exit(f"{name} was not ready within {timeout_s} s")

    try:
        _, ready = start([args.binary, "emulator", "--listen", "127.0.0.1:0", "--scale", str(args.scale)],
                         {"ATS_GATEWAY__SANDBOX__MAX_REQUESTS_PER_WINDOW": "1000000000",
                          "ATS_GATEWAY__SANDBOX__MAX_CONCURRENT": "1000000"}, "emulator", 900)
        dv = ready["dataverse"]
        secret = json.loads(subprocess.check_output([args.binary, "partner-secret"]))
        config = os.path.join(work, "gateway.toml")
        with open(config, "w") as f:
            f.write(util.gateway_toml(ready["emulator"], dv, os.path.join(work, "state"), "bench",
                                      secret["client_secret_hash"], gateway_extra="warm_up = false\n"))
        dump = os.path.join(work, "callgrind.out")
        gw, gready = start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}",
                            args.binary, "--config", config, "serve"],
                           {"ATS_GATEWAY__CACHE__RESPONSE_TTL_MS": "0",
                            "ATS_GATEWAY__CHANGES__SCAN_INTERVAL_MS": "3600000"}, "gateway", 300)
        url = urllib.parse.urlparse(gready["gateway"])
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "bench",
                                       "client_secret": secret["client_secret"]})
        conn.request("POST", "/oauth2/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
        token = json.loads(conn.getresponse().read())["access_token"]

        def sweep():
            rows = 0
            for n in sizes:
                conn.request("GET", f"/v1/recruiting-requests?page_size={n}",
                             headers={"Authorization": f"Bearer {token}"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    sys.exit(f"page_size={n}: {r.status} {body[:300]!r}")
                rows += len(json.loads(body)["data"])
            return rows

        sweep()
        sweep()
        subprocess.check_call(["callgrind_control", "-z", str(gw.pid)], stdout=subprocess.DEVNULL)
        rows = sweep()
        subprocess.check_call(["callgrind_control", "-d", str(gw.pid)], stdout=subprocess.DEVNULL)
        dumps = sorted(glob.glob(dump + ".*"), key=os.path.getmtime)
        if not dumps:
            sys.exit("callgrind wrote no dump")
        total = 0
        with open(dumps[-1]) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        print(json.dumps({"binary": args.binary, "requests": len(sizes), "rows": rows,
                          "instructions_per_request": round(total / len(sizes)),
                          "instructions_per_row": round(total / max(rows, 1)), "dump": dumps[-1]}))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
