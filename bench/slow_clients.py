"""Slow and hostile clients against a real `attain serve`: how long half-sent headers and stalled bodies are
held, and how /healthz answers while 500 such connections are open (against a baseline with none, in the same
run); then the large-body attack: `--attackers` sockets from 127.0.0.2 each POST a 128 KiB body that no route
reads (to /healthz, and to /api/v1/measurements without a key) while a probe from 127.0.0.1 times GET /healthz.
Every figure is printed with the load average beside it (a busy machine makes any latency meaningless).

    .venv/bin/python bench/slow_clients.py [--header-timeout 10] [--body-timeout 30] [--connections 500]
                                           [--attackers 1000] [--body-kib 128] [--probes 200]

Defaults are the service's own defaults (10 s and 30 s). SQLite in a temporary folder; prints the figures.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile, prepare, uvicorn_server  # noqa: E402

HALF_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: attain\r\nUser-Agent: slow"
ATTACKER, PROBE = "127.0.0.2", "127.0.0.1"


async def open_half_headers(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, float]:
    """A connection that sent part of its request headers and then nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HALF_HEADERS)
    await writer.drain()
    return reader, writer, time.monotonic()


async def stalled_body(port: int, token: str, *, sent: int = 10, declared: int = 100) -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter, float]:
    """A submission whose headers announce `declared` bytes of body, of which only `sent` ever come."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /api/v1/measurements HTTP/1.1\r\nHost: attain\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n").encode()
    writer.write(head + b'{"values":'[:sent].ljust(sent, b" "))
    await writer.drain()
    return reader, writer, time.monotonic()


async def held_for(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opened: float,
                   limit: float = 120) -> tuple[float, bytes]:
    """Seconds until the server closed the connection, and what it sent before closing."""
    data = b""
    try:
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                data += chunk
    except (TimeoutError, ConnectionError):
        pass
    held = time.monotonic() - opened
    writer.close()
    return held, data


async def post_unread_body(port: int, path: str, *, size: int = 128 * 1024, source: str = ATTACKER,
                           headers: str = "") -> tuple[asyncio.StreamReader, asyncio.StreamWriter, float]:
    """A POST from `source` announcing and sending `size` bytes that the route answers without reading."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    head = (f"POST {path} HTTP/1.1\r\nHost: attain\r\nContent-Type: application/json\r\n{headers}"
            f"Content-Length: {size}\r\n\r\n").encode()
    try:
        writer.write(head + b" " * size)
        await writer.drain()
    except ConnectionError:
        pass  # answered and closed before the body was all sent: what the reader sees tells the rest
    return reader, writer, time.monotonic()


def load_average() -> str:
    """The 1-minute load average and the number of CPUs, e.g. 'load 0.42/2'."""
    return f"load {os.getloadavg()[0]:.2f}/{os.cpu_count()}"


async def probe_latencies(port: int, n: int, *, source: str = PROBE) -> list[float]:
    """GET /healthz `n` times on fresh connections from `source` (each attack socket is a fresh one too)."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: attain\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        out.append(time.perf_counter() - t)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    return out


async def flood(port: int, attackers: int, body: int) -> list[tuple[float, bytes]]:
    """`attackers` unread-body POSTs from 127.0.0.2, half to /healthz, half to /measurements without a key, all
    started at once; how long each was held and what it was answered."""
    async def one(i: int) -> tuple[float, bytes]:
        path = "/healthz" if i % 2 == 0 else "/api/v1/measurements"
        try:
            return await held_for(*await post_unread_body(port, path, size=body), limit=60)
        except OSError:
            return -1.0, b""  # refused by the kernel's backlog: no connection was held

    return await asyncio.gather(*(one(i) for i in range(attackers)))


def _flood_in_process(port: int, attackers: int, body: int) -> list[tuple[float, bytes]]:
    return asyncio.run(flood(port, attackers, body))


async def attack(port: int, *, attackers: int, body: int, probes: int) -> dict[str, float]:
    """The flood from a process of its own (so that the attacker's work never delays the probe's event loop),
    while the probe times /healthz from 127.0.0.1."""
    baseline = await probe_latencies(port, probes)
    with ProcessPoolExecutor(max_workers=1) as pool:
        await asyncio.get_running_loop().run_in_executor(pool, time.sleep, 0)  # the process is up before timing
        started = time.monotonic()
        flooding = asyncio.get_running_loop().run_in_executor(pool, _flood_in_process, port, attackers, body)
        await asyncio.sleep(0.05)
        loaded = await probe_latencies(port, probes)
        held = await flooding
    statuses = [d[9:12] for _, d in held]
    return {
        "baseline_p50_ms": percentile(baseline, 50) * 1000, "baseline_p99_ms": percentile(baseline, 99) * 1000,
        "loaded_p50_ms": percentile(loaded, 50) * 1000, "loaded_p99_ms": percentile(loaded, 99) * 1000,
        "loaded_max_ms": max(loaded) * 1000, "attack_s": time.monotonic() - started,
        "held_max_s": max(h for h, _ in held), "answered_405": statuses.count(b"405"),
        "answered_401": statuses.count(b"401"), "answered_503": statuses.count(b"503"),
        "unanswered": sum(not d for _, d in held),
    }


async def healthz_latencies(base: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(n):
            t = time.perf_counter()
            r = await client.get("/healthz")
            out.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return out


async def measure(base: str, token: str, *, connections: int) -> dict[str, float]:
    port = int(base.rsplit(":", 1)[1])
    baseline = await healthz_latencies(base, 50)
    slow = [await open_half_headers(port) for _ in range(connections)]
    opened = time.monotonic() - slow[0][2]
    loaded = await healthz_latencies(base, 50)
    body = await stalled_body(port, token)
    held = await asyncio.gather(*(held_for(*c) for c in slow))
    body_held, body_answer = await held_for(*body)
    return {
        "open_s": opened, "baseline_p50_ms": percentile(baseline, 50) * 1000,
        "baseline_p95_ms": percentile(baseline, 95) * 1000, "loaded_p50_ms": percentile(loaded, 50) * 1000,
        "loaded_p95_ms": percentile(loaded, 95) * 1000, "loaded_max_ms": max(loaded) * 1000,
        "header_cut_min_s": min(h for h, _ in held), "header_cut_max_s": max(h for h, _ in held),
        "header_408": sum(b" 408 " in d for _, d in held), "body_cut_s": body_held,
        "body_408": float(b" 408 " in body_answer),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--body-timeout", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--attackers", type=int, default=1000)
    parser.add_argument("--body-kib", type=int, default=128)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attain-slow-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/attain.db"
        tokens = prepare(url, schools_per_district=0)
        env = {"ATTAIN_HEADER_TIMEOUT_SECONDS": str(args.header_timeout),
               "ATTAIN_BODY_TIMEOUT_SECONDS": str(args.body_timeout)}
        with uvicorn_server(url, extra_env=env) as base:
            f = asyncio.run(measure(base, tokens["admin"], connections=args.connections))
            print(f"attain serve, header timeout {args.header_timeout:g} s, body timeout {args.body_timeout:g} s, "
                  f"{args.connections} half-header connections (opened in {f['open_s']:.2f} s) [{load_average()}]")
            print(f"  /healthz p50/p95: {f['baseline_p50_ms']:.1f}/{f['baseline_p95_ms']:.1f} ms with none open, "
                  f"{f['loaded_p50_ms']:.1f}/{f['loaded_p95_ms']:.1f} ms (max {f['loaded_max_ms']:.1f}) with them "
                  f"open ({f['loaded_p50_ms'] / f['baseline_p50_ms']:.2f}x at p50) [{load_average()}]")
            print(f"  half headers cut off after {f['header_cut_min_s']:.2f}–{f['header_cut_max_s']:.2f} s "
                  f"({int(f['header_408'])}/{args.connections} answered 408) [{load_average()}]")
            print(f"  a body stalled at 10 of 100 bytes cut off after {f['body_cut_s']:.2f} s "
                  f"({'408' if f['body_408'] else 'closed without 408'}) [{load_average()}]")
            port = int(base.rsplit(":", 1)[1])
            a = asyncio.run(attack(port, attackers=args.attackers, body=args.body_kib * 1024, probes=args.probes))
    print(f"{args.attackers} POSTs of {args.body_kib} KiB from {ATTACKER} (/healthz and /measurements without a key),"
          f" probe from {PROBE}, {args.probes} GET /healthz each [{load_average()}]")
    print(f"  /healthz p50/p99: {a['baseline_p50_ms']:.1f}/{a['baseline_p99_ms']:.1f} ms before the attack, "
          f"{a['loaded_p50_ms']:.1f}/{a['loaded_p99_ms']:.1f} ms (max {a['loaded_max_ms']:.1f}) during it "
          f"[{load_average()}]")
    print(f"  attack sockets: longest held {a['held_max_s']:.2f} s, all done in {a['attack_s']:.2f} s; answered "
          f"405×{int(a['answered_405'])}, 401×{int(a['answered_401'])}, 503×{int(a['answered_503'])}, "
          f"nothing×{int(a['unanswered'])} [{load_average()}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
