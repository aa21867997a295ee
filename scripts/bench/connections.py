#!/usr/bin/env python3
"""Opens N keep-alive connections to the gateway, makes one partner request on each (bounded
concurrency), and while all of them are still open reads the gateway's RSS. Prints JSON.

usage: connections.py URL TOKEN GATEWAY_PID N
"""
import asyncio
import json
import sys
import urllib.parse


def rss(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def one(url, token, sem):
    async with sem:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, url.port), 10)
        path = url.path + ("?" + url.query if url.query else "")
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
                      "Connection: keep-alive\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        status = int(head.split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await reader.readexactly(length)
        return status, writer


async def main():
    url = urllib.parse.urlsplit(sys.argv[1])
    token, pid, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    sem = asyncio.Semaphore(64)
    results = await asyncio.gather(*(one(url, token, sem) for _ in range(n)), return_exceptions=True)
    held = [r for r in results if not isinstance(r, BaseException)]
    ok = sum(1 for status, _ in held if status == 200)
    await asyncio.sleep(0.5)  # let the gateway settle with every connection open
    out = {"open": len(held), "ok": ok, "failed": n - len(held),
           "rss_mib": rss(pid, "VmRSS"), "peak_rss_mib": rss(pid, "VmHWM")}
    for _, writer in held:
        writer.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
