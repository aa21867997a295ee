#!/usr/bin/env python3
"""Rolling restart under load: steady partner reads through the local cluster's balancer while each
replica is stopped (SIGTERM, graceful drain) and started again in turn (`scripts/cluster.sh replica restart I`,
which waits for its /readyz). Prints requests, errors and latency percentiles as one JSON line; exits 1 on any
error. Any answer but 200 counts as an error (the rate stays below the partner's limit). Every `--token-every`-th
request is a POST /oauth2/token (a POST is not passed to another replica once sent, so it shows connection reuse
races a GET would hide)."""

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATHS = ["/v1/recruiting-requests?page_size=5", "/v1/recruiting-requests?status=active&page_size=2",
         "/v1/option-sets"]


def token(gw, client_id, secret):
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret}).encode()
    with urllib.request.urlopen(gw + "/oauth2/token", body, timeout=10) as r:
        return json.load(r)["access_token"]


class Load:
    def __init__(self, gw, tok, rate, workers, token_every, token_form):
        u = urllib.parse.urlparse(gw)
        self.host, self.port = u.hostname, u.port
        self.tok, self.interval = tok, workers / rate
        self.workers = workers
        self.token_every, self.token_form = token_every, token_form
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies, self.statuses, self.errors = [], {}, []

    def worker(self, n):
        conn = None
        due = time.monotonic() + n * self.interval / self.workers
        i = n
        while not self.stop.is_set():
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due += self.interval
            post = self.token_every > 0 and i % self.token_every == 0
            path = "/oauth2/token" if post else PATHS[i % len(PATHS)]
            i += self.workers
            start = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if post:
                    conn.request("POST", path, body=self.token_form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    conn.request("GET", path, headers={"Authorization": "Bearer " + self.tok})
                resp = conn.getresponse()
                resp.read()
                status = str(resp.status)
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            elapsed = time.monotonic() - start
            with self.lock:
                self.latencies.append(elapsed)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status != "200":
                    self.errors.append({"at": round(time.time(), 3), "path": path, "status": status})

    def run(self):
        self.threads = [threading.Thread(target=self.worker, args=(n,), daemon=True) for n in range(self.workers)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def pct(sorted_values, p):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cluster-dir", default=os.environ.get("ATS_CLUSTER_DIR", os.path.join(ROOT, "target/cluster")))
    ap.add_argument("--rate", type=float, default=40.0, help="requests per second in all (acme-ats: 50/s)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--token-every", type=int, default=20, help="every Nth request a token POST (0: none)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds of load before the first and after the last restart")
    args = ap.parse_args()
    ready = json.load(open(os.path.join(args.cluster_dir, "ready.json")))
    gw = ready["gateway"]
    acme = next(p for p in ready["partners"] if p["id"] == "acme-ats")
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": acme["client_id"],
                                   "client_secret": acme["client_secret"]})
    load = Load(gw, token(gw, acme["client_id"], acme["client_secret"]), args.rate, args.workers,
                args.token_every, form)
    started = time.monotonic()
    load.run()
    time.sleep(args.settle)
    restarts = []
    for i in range(1, len(ready["replicas"]) + 1):
        t0 = time.monotonic()
        subprocess.run([os.path.join(ROOT, "scripts/cluster.sh"), "replica", "restart", str(i)], check=True,
                       env=dict(os.environ, ATS_CLUSTER_DIR=args.cluster_dir))
        restarts.append(round(time.monotonic() - t0, 2))
    time.sleep(args.settle)
    load.finish()
    lat = sorted(load.latencies)
    errors = sum(n for s, n in load.statuses.items() if s != "200")
    report = {
        "requests": len(lat), "errors": errors, "statuses": load.statuses,
        "seconds": round(time.monotonic() - started, 1), "rate": args.rate,
        "p50_ms": round(pct(lat, 50) * 1000, 1), "p99_ms": round(pct(lat, 99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1), "restart_seconds": restarts, "first_errors": load.errors[:10],
    }
    print(json.dumps(report))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
