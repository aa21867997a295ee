#!/usr/bin/env python3
"""Cold start: what a partner's first page costs right after `ats-gateway serve` starts, at a
small and a large scale (goal at --scale 100000: the first page in ≤ 200 ms).

Per scale it starts `ats-gateway emulator` (service protection lifted, like scripts/bench.sh) and
waits for its ready line (seeding 100,000 requests takes a while), then a fresh `ats-gateway serve`
with a generated config (one partner, a state directory of its own, one job board so the boards'
snapshot is counted) and, as soon as its ready line is out, asks for a partner token (timed apart,
not part of the first page) and `GET /v1/recruiting-requests?page_size=50`, then its next page.

Printed per scale: seconds from spawn to the gateway's ready line; first and second page ms;
Dataverse calls (the emulator's `/_sandbox/stats`, by table) made before the ready line and
before the first page answered; the calls the first page waited on (the emulator's request log
entries carrying the page's request id; a call it shared with an identical one in flight, the
gateway's coalescing, carries the other's id and is not among them); the warm-up: seconds until the gateway's
`gateway_warmup_done` gauge is 1 and its calls (`gateway_warmup_upstream_calls`; builds without a
warm-up have none); and the background calls after the two pages until the emulator saw none for
QUIET seconds (the boards' first read).

With --during: from the two pages on, a partner reads a first page and its next page every
PROBE_EVERY seconds (page sizes differ, so the response cache answers none) until the board
answers (its snapshot is built: `/boards/cold/jobs` is 503 before); printed: those pages' ms
(median, max) from the warm-up's end until then (the boards' first read, after its settling
pause), and the boards' read: seconds from the warm-up's end until the board answers, and its
Dataverse calls (the emulator's count minus the probes' own, told apart by their request ids).

usage: coldstart.py [BINARY] [--scales 500,100000] [--timeout SECONDS] [--json] [--emulator BINARY]
                   [--during]
BINARY defaults to $CARGO_TARGET_DIR/release/ats-gateway (else target/release/ats-gateway).
Standard library only; every process it starts is stopped on exit.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import util

GOAL_MS = 200
GOAL_SCALE = 100000
# Without a warm-up gauge: background work is over once the emulator saw no call for this long.
QUIET = 3.0
PAGE = "/v1/recruiting-requests?page_size=50"
PROBE_EVERY = 0.25


def default_binary():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
    return os.path.join(target, "release", "ats-gateway")


def http(method, url, data=None, headers=None, timeout=60):
    """(status, headers, body bytes)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def emulator_env():
    """The emulator's environment: service protection lifted, logs in the default format."""
    env = dict(os.environ, ATS_GATEWAY__SANDBOX__MAX_REQUESTS_PER_WINDOW="1000000000",
               ATS_GATEWAY__SANDBOX__MAX_CONCURRENT="1000000")
    env.pop("ATS_GATEWAY_LOG_FORMAT", None)
    return env


def gateway_env(extra):
    """A gateway's environment: ours without any ATS_GATEWAY* variable, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_GATEWAY")}
    env.update(extra)
    return env


def emulator(binary, scale, workdir, procs):
    """`binary emulator` at `scale` (service protection lifted), appended to `procs`; its ready line."""
    emu = Proc([binary, "emulator", "--listen", "127.0.0.1:0", "--scale", str(scale)], emulator_env(), workdir)
    procs.append(emu)
    ready, _ = emu.ready(900)
    return ready


def partner_secret(binary):
    """A fresh partner secret and its hash (`binary partner-secret`)."""
    return json.loads(subprocess.run([binary, "partner-secret"], capture_output=True, text=True,
                                     check=True).stdout)


def gateway(binary, ready, workdir, partner, secret, env, procs, log=None):
    """`serve` on the emulator of `ready` with one partner of no practical limit (`util.gateway_toml`),
    its config and state in `workdir` (one per gateway), `env` added to its environment (our own
    ATS_GATEWAY* variables dropped). Appended to `procs`. Returns its ready line, its Proc and a
    token of `partner` (`secret`: from `partner_secret`)."""
    os.makedirs(workdir, exist_ok=True)
    config = os.path.join(workdir, "gateway.toml")
    with open(config, "w") as f:
        f.write(util.gateway_toml(ready["emulator"], ready["dataverse"], os.path.join(workdir, "state"),
                                  partner, secret["client_secret_hash"]))
    gw = Proc([binary, "--config", config, "serve"], gateway_env(env), workdir, log)
    procs.append(gw)
    gready, _ = gw.ready(120)
    return gready, gw, partner_token(gready["gateway"], partner, secret["client_secret"])


def emulator_and_gateway(binary, scale, workdir, partner, env, procs, log=None):
    """`emulator` and one `gateway` on it, both in `workdir`. Returns the emulator's ready line, the
    gateway's, the gateway's Proc and a token."""
    ready = emulator(binary, scale, workdir, procs)
    gready, gw, token = gateway(binary, ready, workdir, partner, partner_secret(binary), env, procs, log)
    return ready, gready, gw, token


def list_query(emulator_url, gateway_url, token):
    """The gateway's own upstream query for a partner list page, as the emulator logged it (after one
    `page_size=1` request). Its `Prefer` header is not logged: see `LIST_PREFER`."""
    http("DELETE", emulator_url + "/_sandbox/requests")
    status, _, body = http("GET", gateway_url + "/v1/recruiting-requests?page_size=1",
                           headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        raise SystemExit(f"list page: {status} {body[:300]!r}")
    return next(e["target"] for e in get_json(emulator_url + "/_sandbox/requests")
                if e["target"].startswith("/api/data/v9.2/mshr_hcmrecruitingrequestentities?"))


# A gateway that answers every page from Dataverse (response cache off) and runs no change scan
# while a script measures (the first one waits its interval).
QUIET_GATEWAY_ENV = {
    "ATS_GATEWAY__CACHE__RESPONSE_TTL_MS": "0",
    "ATS_GATEWAY__CHANGES__SCAN_INTERVAL_MS": "3600000",
}

# The gateway's Prefer for a list page of {n} rows (upstream/wire.rs).
LIST_PREFER = 'odata.maxpagesize={n},odata.include-annotations="OData.Community.Display.V1.FormattedValue"'


def partner_token(base, client_id, client_secret):
    """A partner access token from the gateway at `base` (client credentials)."""
    status, _, body = http("POST", base + "/oauth2/token", data=urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": client_id,
        "client_secret": client_secret}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit(f"token: {status} {body[:200]!r}")
    return json.loads(body)["access_token"]


def emulator_token(dv):
    """A Dataverse access token from the emulator's Entra endpoint (`dv`: its ready line's `dataverse`)."""
    status, _, body = http("POST", dv["token_url"], data=urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": dv["client_id"],
        "client_secret": dv["client_secret"], "scope": dv["org_url"] + "/.default"}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit(f"emulator token: {status} {body[:200]!r}")
    return json.loads(body)["access_token"]


def get_json(url):
    status, _, body = http("GET", url)
    if status != 200:
        raise SystemExit(f"GET {url}: {status}")
    return json.loads(body)


def terminate(p):
    """SIGTERM to a child, SIGKILL when it has not exited 10 s later."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Proc:
    """A child whose first stdout line is its JSON ready line; stderr kept for errors."""

    def __init__(self, args, env, cwd, log=None):
        self.started = time.monotonic()
        # stderr straight to a file, as nginx's logs go: a reader thread here would spend CPU on
        # every log line of the process measured, on the machine the measurement shares.
        if log is None:
            fd, log = tempfile.mkstemp(prefix="stderr-", suffix=".log", dir=cwd)
            os.close(fd)
        self.log_path = log
        self.log = open(log, "w")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=cwd, text=True)

    def err_tail(self, n=20):
        """The last `n` lines the process wrote to stderr."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def ready(self, timeout):
        """The ready line (JSON) and the seconds since spawn; raises when it never comes."""
        box = {}

        def read():
            box["line"] = self.p.stdout.readline()
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        line = box.get("line")
        if not line:
            raise SystemExit(f"{self.p.args[1:3]} not ready within {timeout} s:\n" + self.err_tail())
        took = time.monotonic() - self.started
        # Keep draining stdout so the child never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.p.stdout], daemon=True).start()
        return json.loads(line), took

    def stop(self):
        terminate(self.p)
        # The child wrote the log itself: complete once it has exited.
        self.log.close()


def delta(before, after):
    b, a = before["requests"], after["requests"]
    d = {t: a.get(t, 0) - b.get(t, 0) for t in a}
    return {t: c for t, c in sorted(d.items()) if c}


def short(target):
    """`GlobalOptionSetDefinitions(Name='x')` → `GlobalOptionSetDefinitions(Name=…)`, tables as they are."""
    if target.startswith("GlobalOptionSetDefinitions("):
        return "GlobalOptionSetDefinitions(Name=…)"
    return target


def grouped(calls):
    out = {}
    for t, c in calls.items():
        out[short(t)] = out.get(short(t), 0) + c
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def gauge(ops, name):
    """A gauge of the gateway's /metrics (None when the build has no such gauge)."""
    status, _, body = http("GET", ops + "/metrics", timeout=10)
    if status != 200:
        return None
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(None, 1)[1])
    return None


class Probes:
    """A partner reading a first page and its next page every PROBE_EVERY s, on a thread of its own."""

    def __init__(self, base, auth, t_ready):
        self.base, self.auth, self.t_ready = base, auth, t_ready
        self.rows, self.ids = [], set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _get(self, url):
        t0 = time.monotonic()
        status, headers, body = http("GET", url, headers=self.auth)
        ms = 1000 * (time.monotonic() - t0)
        if headers is not None and headers.get("x-request-id"):
            self.ids.add(headers.get("x-request-id"))
        return status, body, ms

    def _run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            # 1..200 except the measured pages' 50: never a cached answer within 199 probes.
            size = 1 + (i - 1) % 199
            size += size >= 50
            at = time.monotonic() - self.t_ready
            path = f"/v1/recruiting-requests?page_size={size}"
            status, body, first_ms = self._get(self.base + path)
            next_ms = None
            if status == 200:
                cursor = json.loads(body).get("next_cursor")
                if cursor:
                    status, _, next_ms = self._get(self.base + path + "&cursor=" + urllib.parse.quote(cursor))
            self.rows.append((at, first_ms if status == 200 else None, next_ms))
            self.stop.wait(PROBE_EVERY)

    def finish(self):
        self.stop.set()
        self.thread.join(120)

    def during(self, start, end):
        """(first ms, next ms) lists of the probes that started in [start, end] s after ready."""
        rows = [r for r in self.rows if start is not None and end is not None and start <= r[0] <= end]
        return [r[1] for r in rows if r[1] is not None], [r[2] for r in rows if r[2] is not None]


def summary(ms):
    if not ms:
        return None
    ms = sorted(ms)
    return {"n": len(ms), "p50": round(ms[len(ms) // 2], 1), "max": round(ms[-1], 1)}


def measure(binary, scale, timeout, log=None, emulator=None, during=False):
    tmp = tempfile.TemporaryDirectory(prefix="coldstart-")
    procs = []
    try:
        emu = Proc([emulator or binary, "emulator", "--listen", "127.0.0.1:0", "--scale", str(scale)],
                   emulator_env(), tmp.name)
        procs.append(emu)
        ready, seed_s = emu.ready(timeout)
        emu_url, dv = ready["emulator"], ready["dataverse"]

        secret = partner_secret(binary)
        config = os.path.join(tmp.name, "gateway.toml")
        with open(config, "w") as f:
            f.write(util.gateway_toml(emu_url, dv, os.path.join(tmp.name, "state"), "cold",
                                      secret["client_secret_hash"], extra='''
[[boards]]
id = "cold"
name = "Cold board"
companies = ["usmf"]
apply_url = "https://ats.example.com/apply?request={number}"
hiring_organization = { name = "Contoso" }
'''))
        # Everything from here on is the gateway's.
        http("POST", emu_url + "/_sandbox/stats/reset", data=b"")
        http("DELETE", emu_url + "/_sandbox/requests")
        zero = get_json(emu_url + "/_sandbox/stats")

        gw = Proc([binary, "--config", config, "serve"], gateway_env({}), tmp.name, log)
        procs.append(gw)
        gready, ready_s = gw.ready(120)
        at_ready = get_json(emu_url + "/_sandbox/stats")
        t_ready = time.monotonic()
        base, ops = gready["gateway"], gready.get("ops") or gready["gateway"]

        t0 = time.monotonic()
        token = partner_token(base, "cold", secret["client_secret"])
        token_ms = 1000 * (time.monotonic() - t0)
        auth = {"Authorization": f"Bearer {token}"}

        t0 = time.monotonic()
        status, headers, body = http("GET", base + PAGE, headers=auth)
        first_ms = 1000 * (time.monotonic() - t0)
        at_first = get_json(emu_url + "/_sandbox/stats")
        if status != 200:
            raise SystemExit(f"first page: {status} {body[:300]!r}")
        first_id = headers.get("x-request-id")
        page = json.loads(body)
        cursor = page.get("next_cursor")
        second_ms, second_calls, after_pages = None, None, at_first
        if cursor:
            url = base + PAGE + "&cursor=" + urllib.parse.quote(cursor)
            s0 = get_json(emu_url + "/_sandbox/stats")
            t0 = time.monotonic()
            status, _, _ = http("GET", url, headers=auth)
            second_ms = 1000 * (time.monotonic() - t0)
            s1 = get_json(emu_url + "/_sandbox/stats")
            second_calls = sum(delta(s0, s1).values()) if status == 200 else None
            after_pages = s1
        log = get_json(emu_url + "/_sandbox/requests")
        probes = Probes(base, auth, t_ready) if during else None
        waited = {}
        for e in log:
            if first_id and e.get("client_request_id") == first_id:
                path = e["target"].split("?", 1)[0].rsplit("/", 1)[-1]
                waited[short(urllib.parse.unquote(path))] = waited.get(short(urllib.parse.unquote(path)), 0) + 1

        # Background work after the first page: the warm-up (until its gauge says done), then
        # everything else (the boards' first read) until the emulator saw no call for QUIET s
        # (with probes: counted once the board answers and the probes stopped).
        last_total, last_change = after_pages["total_requests"], time.monotonic()
        gauge_seen, done_s, warm_calls, quiet_s = False, None, None, None
        board_s, at_board = None, None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probes and board_s is None and http("GET", base + "/boards/cold/jobs", timeout=10)[0] == 200:
                board_s = time.monotonic() - t_ready
                probes.finish()
                at_board = get_json(emu_url + "/_sandbox/stats")
            s = get_json(emu_url + "/_sandbox/stats")
            if s["total_requests"] != last_total:
                last_total, last_change = s["total_requests"], time.monotonic()
            if done_s is None:
                g = gauge(ops, "gateway_warmup_done")
                if g is not None:
                    gauge_seen = True
                    if g >= 1:
                        done_s = time.monotonic() - t_ready
                        warm_calls = gauge(ops, "gateway_warmup_upstream_calls")
            if (time.monotonic() - last_change >= QUIET and (done_s is not None or not gauge_seen)
                    and (board_s is not None or not probes)):
                quiet_s = last_change - t_ready
                break
            time.sleep(0.1)
        at_quiet = get_json(emu_url + "/_sandbox/stats")
        extra = {}
        if probes:
            first, nxt = probes.during(done_s, board_s)
            after = get_json(emu_url + "/_sandbox/requests")
            probe_calls = sum(1 for e in after if e.get("client_request_id") in probes.ids)
            background = sum(delta(after_pages, at_board).values()) - probe_calls
            extra = {
                "during_first": summary(first),
                "during_next": summary(nxt),
                "probe_calls": probe_calls,
                "boards_calls": background,
                "boards_s": round(board_s - done_s, 2) if None not in (board_s, done_s) else None,
                "log_full": len(after) >= 1000,
            }
        return {
            "scale": scale,
            "seed_s": round(seed_s, 1),
            "ready_s": round(ready_s, 3),
            "token_ms": round(token_ms, 1),
            "first_ms": round(first_ms, 1),
            "second_ms": round(second_ms, 1) if second_ms is not None else None,
            "second_calls": second_calls,
            "calls_before_ready": grouped(delta(zero, at_ready)),
            "calls_before_first": grouped(delta(zero, at_first)),
            "first_waited_on": dict(sorted(waited.items(), key=lambda kv: (-kv[1], kv[0]))),
            "warmup_gauge": gauge_seen,
            "warmup_done_s": round(done_s, 2) if done_s is not None else None,
            "warmup_calls": int(warm_calls) if warm_calls is not None else None,
            "quiet_s": round(quiet_s, 2) if quiet_s is not None else None,
            "calls_after_pages": grouped(delta(after_pages, at_quiet)),
            **extra,
        }
    finally:
        for p in reversed(procs):
            p.stop()
        tmp.cleanup()


def fmt_calls(calls):
    total = sum(calls.values())
    return f"{total}" + (f" ({', '.join(f'{t} {c}' for t, c in calls.items())})" if calls else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default=default_binary())
    ap.add_argument("--scales", default=f"500,{GOAL_SCALE}")
    ap.add_argument("--timeout", type=float, default=900, help="seconds for seeding and for the warm-up")
    ap.add_argument("--json", action="store_true", help="one JSON line per scale")
    ap.add_argument("--log", help="write the gateway's log (stderr) to LOG.SCALE")
    ap.add_argument("--emulator", help="the emulator from another build (default: BINARY's)")
    ap.add_argument("--during", action="store_true",
                    help="partner pages every 0.25 s while the background work (the boards' first read) runs")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        raise SystemExit(f"{a.binary} is not an executable (build: cargo build --release --bin ats-gateway)")
    for scale in [int(s) for s in a.scales.split(",")]:
        r = measure(os.path.abspath(a.binary), scale, a.timeout, f"{a.log}.{scale}" if a.log else None,
                    os.path.abspath(a.emulator) if a.emulator else None, a.during)
        if a.json:
            print(json.dumps(r), flush=True)
            continue
        print(f"Cold start at scale {scale} (emulator seeded in {r['seed_s']} s):")
        print(f"  gateway ready line        {r['ready_s']:.2f} s after spawn; "
              f"{fmt_calls(r['calls_before_ready'])} Dataverse calls before it")
        print(f"  partner token             {r['token_ms']:.1f} ms (not part of the first page)")
        print(f"  first page (page_size=50) {r['first_ms']:.1f} ms"
              + (f"   goal ≤ {GOAL_MS} ms: {'met' if r['first_ms'] <= GOAL_MS else 'NOT met'}"
                 if scale == GOAL_SCALE else ""))
        print(f"    calls before it answered: {fmt_calls(r['calls_before_first'])}")
        print(f"    of which it waited on:    {fmt_calls(r['first_waited_on'])}")
        if r["second_ms"] is not None:
            print(f"  second page (next link)   {r['second_ms']:.1f} ms, {r['second_calls']} Dataverse calls")
        if r["warmup_gauge"]:
            done = f"{r['warmup_done_s']:.2f} s after ready" if r["warmup_done_s"] is not None else "not done"
            print(f"  warm-up (background)      done {done}; {r['warmup_calls']} Dataverse calls in all "
                  "(one at a time)")
        else:
            print("  warm-up (background)      none in this build")
        quiet = f"{r['quiet_s']:.2f} s after ready" if r["quiet_s"] is not None else "not quiet"
        print(f"  background after the pages {fmt_calls(r['calls_after_pages'])} calls; "
              f"last call {quiet} (the boards' first read)")
        if "during_first" in r:
            def ms(x):
                return f"median {x['p50']} ms, max {x['max']} ms of {x['n']}" if x else "none"
            print(f"  partner pages during it   first: {ms(r['during_first'])}; next: {ms(r['during_next'])}")
            boards_s = f"{r['boards_s']:.2f} s" if r["boards_s"] is not None else "?"
            print(f"  the boards' read          {r['boards_calls']} Dataverse calls (the probes' "
                  f"{r['probe_calls']} apart{'; request log full, apart count low' if r['log_full'] else ''}), "
                  f"board answering {boards_s} after the warm-up's end")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
