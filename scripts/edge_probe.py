#!/usr/bin/env python3
"""Edge probe: starts `ats-gateway sandbox` on loopback and measures how the partner listener treats edge cases.

    scripts/edge_probe.py [path/to/ats-gateway] [metrics|wrong-secret|slow-clients|all]

Each scenario runs against a fresh process and prints one JSON line:
- metrics: /metrics size before and after 1,000 requests with made-up methods;
- wrong-secret: RSS before, right after and 2 s after 900 wrong-secret token requests (40 threads),
  once from one address against one client, once spread over many addresses and client ids;
- slow-clients: RSS while 200 sockets each hold 380 KB of unfinished headers, and how many are
  still open after the header-read timeout.
Loopback only (127.0.0.0/8 source addresses), bounded counts and times. Standard library only.
"""

import json
import os
import random
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.parse


def start(binary):
    proc = subprocess.Popen(
        [binary, "sandbox", "--listen", "127.0.0.1:0", "--emulator-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            break
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "ready":
            url = urllib.parse.urlparse(ev["gateway"])
            ops = urllib.parse.urlparse(ev["ops"])
            return proc, (url.hostname, url.port), (ops.hostname, ops.port)
    proc.kill()
    raise SystemExit("gateway did not start")


# A cheap unauthenticated route on the partner port (/healthz and /metrics are on the ops listener).
PING = "/.well-known/jwks.json"


def rss_mb(proc):
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def raw(addr, data, source="127.0.0.1", timeout=10):
    """Sends `data`, reads the whole answer (Connection: close)."""
    s = socket.create_connection(addr, timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    except OSError:
        return out
    finally:
        s.close()


def status_of(answer):
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def get(addr, path):
    ans = raw(addr, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = ans.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status_of(ans), body


def token_request(addr, client_id, secret, source):
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    ).encode()
    req = (
        b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return status_of(raw(addr, req, source=source, timeout=30))


def metrics(binary):
    proc, addr, ops = start(binary)
    try:
        get(addr, PING)
        before = len(get(ops, "/metrics")[1])
        for i in range(1000):
            m = "X%05d%s" % (i, "".join(random.choices(string.ascii_uppercase, k=6)))
            raw(addr, f"{m} {PING} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        after = len(get(ops, "/metrics")[1])
        return {"scenario": "metrics", "bytes_before": before, "bytes_after_1000_methods": after}
    finally:
        proc.kill()


def flood(addr, n, threads, pick):
    statuses = {}
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            client, source = pick(i)
            st = token_request(addr, client, "wrong-secret", source)
            with lock:
                statuses[st] = statuses.get(st, 0) + 1

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    # A legitimate partner from another address while the flood runs.
    legit = token_request(addr, "acme-ats", "acme-demo-secret", "127.0.0.1")
    for t in ts:
        t.join()
    return statuses, legit


def wrong_secret(binary):
    out = {"scenario": "wrong-secret"}
    for name, pick in [
        ("one_client_one_address", lambda i: ("nordic-hr", "127.0.0.2")),
        ("spread", lambda i: ("unknown-%d" % i, "127.0.%d.%d" % (1 + i // 250, 2 + i % 250))),
    ]:
        proc, addr, _ = start(binary)
        try:
            get(addr, PING)
            before = rss_mb(proc)
            started = time.time()
            statuses, legit = flood(addr, 900, 40, pick)
            took = round(time.time() - started, 1)
            after = rss_mb(proc)
            time.sleep(2)
            out[name] = {
                "rss_mb_before": before,
                "rss_mb_after": after,
                "rss_mb_2s_later": rss_mb(proc),
                "statuses": statuses,
                "legit_partner_status": legit,
                "seconds": took,
            }
        finally:
            proc.kill()
    return out


def slow_clients(binary, n=200, held=380 * 1024, wait=15):
    proc, addr, _ = start(binary)
    socks = []
    try:
        get(addr, PING)
        before = rss_mb(proc)
        line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        for i in range(n):
            s = socket.create_connection(addr, timeout=5)
            s.setblocking(True)
            try:
                s.sendall(f"GET {PING} HTTP/1.1\r\nHost: x\r\n".encode())
                sent = 0
                while sent < held:
                    s.sendall(line)
                    sent += len(line)
            except OSError:
                pass
            socks.append(s)
        holding = rss_mb(proc)
        deadline = time.time() + wait
        while time.time() < deadline:
            time.sleep(0.5)
        open_after = 0
        for s in socks:
            s.settimeout(0.2)
            try:
                s.sendall(line)
                data = s.recv(1)
                # An answer (431) or EOF both mean the gateway let go of the connection.
                if data == b"":
                    continue
                if data:
                    continue
            except socket.timeout:
                open_after += 1
            except OSError:
                continue
        return {
            "scenario": "slow-clients",
            "sockets": n,
            "rss_mb_before": before,
            "rss_mb_holding": holding,
            "still_open_after_s": wait,
            "still_open": open_after,
            "rss_mb_after": rss_mb(proc),
        }
    finally:
        for s in socks:
            s.close()
        proc.kill()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ats-gateway"
    which = sys.argv[2] if len(sys.argv) > 2 else "all"
    runs = {"metrics": metrics, "wrong-secret": wrong_secret, "slow-clients": slow_clients}
    for name, run in runs.items():
        if which in (name, "all"):
            print(json.dumps(run(binary)), flush=True)


if __name__ == "__main__":
    main()
