#!/usr/bin/env python3
"""What the limits shared through Redis (`[cluster] redis_url`) add to a partner request: p50/p99
latency of the same partner page with Redis off and on, on loopback.

It starts a `redis-server` (free port, temporary directory, no persistence) and, per row, two
`ats-gateway sandbox` processes (emulator + gateway), one without and one with
`ATS_GATEWAY__CLUSTER__REDIS_URL`, then sends one partner's requests on a keep-alive connection to each, alternating between the two
gateways (so the machine's noise hits both alike), paced below the partner's rate limit
(acme-ats: 50/s), and records each request's latency. Rows:

  cache on,  Redis off / on   a cached page: Redis adds the rate-limit script (one round trip)
  cache off, Redis off / on   every request calls Dataverse: also the cluster slot (acquire: one
                              round trip; release: in the background)

Standard library only. usage: redis_limits.py BINARY [--requests N] [--rate R]
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import util


def start_redis():
    binary = shutil.which("redis-server")
    if not binary:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port, folder = util.free_port(), tempfile.TemporaryDirectory(prefix="redis-bench-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", folder.name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port, folder
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not answer")


def percentile(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100 * (len(sorted_ms) - 1))))]


class Gateway:
    """One `ats-gateway sandbox` and a keep-alive partner connection to it."""

    def __init__(self, binary, redis_url, cache_ttl_ms):
        env = dict(os.environ, ATS_GATEWAY__CACHE__RESPONSE_TTL_MS=str(cache_ttl_ms))
        env.pop("ATS_GATEWAY__CLUSTER__REDIS_URL", None)
        if redis_url:
            env["ATS_GATEWAY__CLUSTER__REDIS_URL"] = redis_url
        self.state = tempfile.TemporaryDirectory(prefix="redis-bench-gw-")
        self.proc = subprocess.Popen([os.path.abspath(binary), "sandbox", "--listen", "127.0.0.1:0",
                                      "--emulator-listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=env, cwd=self.state.name)
        ready = json.loads(self.proc.stdout.readline())
        gw = urllib.parse.urlparse(ready["gateway"])
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "acme-ats",
                                       "client_secret": "acme-demo-secret"}).encode()
        with urllib.request.urlopen(ready["gateway"] + "/oauth2/token", form) as r:
            self.headers = {"Authorization": f"Bearer {json.load(r)['access_token']}"}
        self.conn = http.client.HTTPConnection(gw.hostname, gw.port, timeout=30)
        self.latencies, self.statuses = [], {}

    def get(self, i, record=True):
        started = time.perf_counter()
        self.conn.request("GET", f"/v1/recruiting-requests?page_size={i % 50 + 1}", headers=self.headers)
        resp = self.conn.getresponse()
        resp.read()
        if record:
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1

    def result(self):
        ms = sorted(self.latencies)
        return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "statuses": self.statuses}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.state.cleanup()


def measure(binary, redis_url, cache_ttl_ms, requests, rate):
    """Both gateways at once, requests alternating between them, so machine noise hits both alike."""
    off = on = None
    try:
        off = Gateway(binary, "", cache_ttl_ms)
        on = Gateway(binary, redis_url, cache_ttl_ms)
        gap = 1.0 / rate
        # Warm-up (option sets, lookups, connections, Redis scripts), not measured.
        for i in range(requests // 10 + 20):
            off.get(i, record=False)
            on.get(i, record=False)
            time.sleep(gap)
        next_at = time.perf_counter()
        for i in range(requests):
            next_at += gap
            first, second = (off, on) if i % 2 else (on, off)
            first.get(i)
            second.get(i)
            time.sleep(max(0.0, next_at - time.perf_counter()))
        return off.result(), on.result()
    finally:
        for g in (off, on):
            if g:
                g.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--rate", type=float, default=40.0, help="requests per second (below acme-ats' 50/s)")
    a = ap.parse_args()
    redis, port, folder = start_redis()
    try:
        url = f"redis://127.0.0.1:{port}/0"
        rows = []
        for cache, ttl in (("on", 5000), ("off", 0)):
            off, on = measure(a.binary, url, ttl, a.requests, a.rate)
            rows.append((cache, off, on))
    finally:
        redis.terminate()
        redis.wait(10)
        folder.cleanup()
    print(f"{a.requests} requests per gateway at {a.rate:g}/s, one keep-alive connection, loopback.\n")
    print("| response cache | Redis off p50 ms | Redis on p50 ms | added p50 ms | Redis off p99 ms | Redis on p99 ms | added p99 ms | statuses (on) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for cache, off, on in rows:
        print(f"| {cache} | {off['p50']:.2f} | {on['p50']:.2f} | {on['p50'] - off['p50']:+.2f} "
              f"| {off['p99']:.2f} | {on['p99']:.2f} | {on['p99'] - off['p99']:+.2f} | {on['statuses']} |")


if __name__ == "__main__":
    main()
