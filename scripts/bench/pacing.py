#!/usr/bin/env python3
"""Pacing by Dataverse's budget headers: with a budget of 150 requests per 30 s,
600 distinct partner reads; how many upstream calls Dataverse throttled, partner 5xx, and whether
each partner 429's Retry-After was right.

It starts `ats-gateway sandbox` with the emulator's window at 150 / 30 s (the change scanner runs as
usual, every 2 s, as background work), collects 600 ids (recruiting requests and candidates) while
paging the lists (topped up with list pages of distinct sizes), waits a full window, reads the emulator's counters, then reads every id once
(detail routes: 600 distinct URLs) with WORKERS clients. A client answered 429 waits its
Retry-After and asks again; a Retry-After is counted "right" when that next ask is served (not
refused again) and the wait was no longer than the window. Standard library only.

usage: pacing.py BINARY [--reads 600] [--workers 8] [--budget 150] [--window 30] [--timeout-ms MS] [--json]
"""
import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import coldstart

# Before pacing: the gateway learnt the budget only from 429s.
BEFORE_THROTTLED = 56
GOAL_THROTTLED = 5


def call(url, token=None, data=None, method=None):
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def partner_token(gateway, partner):
    body = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": partner["client_id"],
        "client_secret": partner["client_secret"],
    }).encode()
    status, _, raw = call(gateway + "/oauth2/token", data=body)
    if status != 200:
        raise SystemExit(f"token: {status} {raw[:200]!r}")
    return json.loads(raw)["access_token"]


def collect_ids(gateway, token, want):
    """Detail paths of `want` distinct records, by paging the two lists."""
    paths = []
    for route in ("/v1/recruiting-requests", "/v1/candidates"):
        url = f"{gateway}{route}?page_size=100"
        while url and len(paths) < want:
            status, headers, raw = call(url, token)
            if status == 429:
                time.sleep(int(headers.get("retry-after", "1")))
                continue
            if status != 200:
                raise SystemExit(f"{url}: {status} {raw[:200]!r}")
            page = json.loads(raw)
            paths += [f"{route}/{row['id']}" for row in page["data"]]
            nxt = page.get("next_cursor")
            url = f"{gateway}{route}?page_size=100&cursor={urllib.parse.quote(nxt)}" if nxt else None
    # Fewer records than reads (the demo partner sees some companies only): distinct list pages too.
    for size in range(1, 101):
        for route in ("/v1/recruiting-requests", "/v1/candidates"):
            if len(paths) < want:
                paths.append(f"{route}?page_size={size}")
    return paths[:want]


def emulator_stats(emu):
    return json.loads(call(emu + "/_sandbox/stats")[2])


def measure(binary, reads, workers, budget, window, timeout_ms):
    env = dict(os.environ,
               ATS_GATEWAY__SANDBOX__MAX_REQUESTS_PER_WINDOW=str(budget),
               ATS_GATEWAY__SANDBOX__WINDOW_SECS=str(window))
    if timeout_ms:
        # A partner deadline shorter than the window: held reads answer 429 instead of waiting.
        env["ATS_GATEWAY__GATEWAY__REQUEST_TIMEOUT_MS"] = str(timeout_ms)
    state = tempfile.TemporaryDirectory(prefix="pacing-bench-")
    proc = subprocess.Popen(
        [os.path.abspath(binary), "sandbox", "--listen", "127.0.0.1:0", "--emulator-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=state.name)
    try:
        ready = json.loads(proc.stdout.readline())
        gateway, emu = ready["gateway"], ready["emulator"]
        partner = next(p for p in ready["partners"] if p["id"] == "acme-ats")
        token = partner_token(gateway, partner)
        paths = collect_ids(gateway, token, reads)
        if len(paths) < reads:
            raise SystemExit(f"only {len(paths)} records to read")
        # A full window after the collection, so the run starts with the whole budget.
        time.sleep(window + 1)
        # Counters read before and after, not reset: a reset would also empty the emulator's
        # service-protection window, which no Dataverse does behind a client's back.
        before = emulator_stats(emu)
        call(emu + "/_sandbox/requests", method="DELETE")
        todo = list(paths)
        lock = threading.Lock()
        out = {"served": 0, "partner_5xx": 0, "partner_429": 0, "retry_after_right": 0,
               "retry_after_wrong": 0, "retry_after_max": 0, "other": 0}

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    path = todo.pop()
                after_429 = None
                while True:
                    status, headers, _ = call(gateway + path, token)
                    if after_429 is not None:
                        right = status != 429 and after_429 <= window
                        with lock:
                            out["retry_after_right" if right else "retry_after_wrong"] += 1
                    if status == 429:
                        wait = int(headers.get("retry-after", "0"))
                        with lock:
                            out["partner_429"] += 1
                            out["retry_after_max"] = max(out["retry_after_max"], wait)
                        after_429 = wait
                        time.sleep(wait)
                        continue
                    with lock:
                        if status == 200:
                            out["served"] += 1
                        elif status >= 500:
                            out["partner_5xx"] += 1
                            out.setdefault("5xx_statuses", []).append(status)
                        else:
                            out["other"] += 1
                    break

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["seconds"] = round(time.monotonic() - started, 1)
        s = emulator_stats(emu)
        out["upstream_calls"] = s["total_requests"] - before["total_requests"]
        out["upstream_throttled"] = s["throttled"] - before["throttled"]
        # Which calls Dataverse refused, and where in the run (the request log keeps the last 1,000).
        log = json.loads(call(emu + "/_sandbox/requests")[2])
        out["throttled_at"] = [f"{i}/{len(log)} {r.get('target')}" for i, r in enumerate(log)
                               if r.get("status") == 429]
        return out
    finally:
        coldstart.terminate(proc)
        state.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--reads", type=int, default=600)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--timeout-ms", type=int, default=0,
                    help="partner request deadline ([gateway] request_timeout_ms; default: the gateway's 30 s)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.binary, a.reads, a.workers, a.budget, a.window, a.timeout_ms)
    if a.json:
        print(json.dumps(r))
        return
    deadline = f"{a.timeout_ms} ms" if a.timeout_ms else "30 s"
    print(f"Budget {a.budget} / {a.window} s, {a.reads} distinct partner reads, {a.workers} clients, "
          f"partner deadline {deadline}:")
    print(f"{'':40}{'before':>10}{'after':>10}")
    print(f"{'throttled upstream calls (429)':40}{BEFORE_THROTTLED:>10}{r['upstream_throttled']:>10}")
    print(f"{'upstream calls':40}{'-':>10}{r['upstream_calls']:>10}")
    print(f"{'partner reads served':40}{'-':>10}{r['served']:>10}")
    print(f"{'partner 5xx':40}{'-':>10}{r['partner_5xx']:>10}")
    print(f"{'partner 429':40}{'-':>10}{r['partner_429']:>10}")
    print(f"{'  Retry-After right / wrong':40}{'-':>10}{str(r['retry_after_right']) + ' / ' + str(r['retry_after_wrong']):>10}")
    print(f"{'  longest Retry-After (s)':40}{'-':>10}{r['retry_after_max']:>10}")
    print(f"{'seconds':40}{'-':>10}{r['seconds']:>10}")
    if r["throttled_at"]:
        print("refused by Dataverse (position in the run's calls, target): " + ", ".join(r["throttled_at"]))
    ok = r["upstream_throttled"] <= GOAL_THROTTLED and r["partner_5xx"] == 0 and r["retry_after_wrong"] == 0
    print(f"goal: ≤ {GOAL_THROTTLED} throttled upstream calls, no partner 5xx, every Retry-After right: "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
