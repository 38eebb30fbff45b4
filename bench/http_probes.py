"""Hostile-client probes against an HTTP server on loopback, with raw sockets.

    uv run python -m bench.http_probes --port PORT [--json]

What each probe sends, and what a server fit to sit behind an ALB must do:

| probe | sends | wanted |
|---|---|---|
| huge_header | one 64 MiB header | refused early (431/400 or closed), /health fast meanwhile |
| long_line | a 20 KiB header line (the ALB allows 16 KiB) | 431 or 400 |
| big_block | 80 KiB of headers in 1 KiB lines (the ALB allows 64 KiB) | 431 or 400 |
| ok_block | 12 KiB of headers in 1 KiB lines | 200 |
| slow_headers | a header byte a second | closed within the header-read timeout |
| silent | connects, sends nothing | closed |
| idle | one request, then silence on the kept-alive connection | closed after the idle timeout |
| no_host / two_hosts | HTTP/1.1 without Host, with two | 400 |
| head | HEAD /health | 200, no body, same headers as GET |
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

WAIT = 20.0  # the longest a probe waits for the server to act


async def _exchange(port: int, data: bytes, *, read_for: float = 5.0) -> tuple[str, float]:
    """Send `data` and read until the server closes or `read_for` passes: (first line, s)."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            return "reset while sending", time.monotonic() - start
        received = b""
        try:
            async with asyncio.timeout(read_for):
                while chunk := await reader.read(65536):
                    received += chunk
        except TimeoutError:
            pass
        except ConnectionError:
            received += b"<reset>"
        line = received.split(b"\r\n", 1)[0].decode("latin-1") or "closed, no answer"
        return line, time.monotonic() - start
    finally:
        writer.close()


def _request(headers: list[tuple[str, str]], method: str = "GET", path: str = "/health") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _health_ms(port: int) -> float:
    line, seconds = await _exchange(port, _request([("Host", "probe")]))
    return seconds * 1000 if line.startswith("HTTP/1.1 200") else float("inf")


async def huge_header(port: int) -> dict[str, Any]:
    payload = _request([("Host", "probe"), ("X-Big", "a" * (64 * 1024 * 1024))])
    task = asyncio.create_task(_exchange(port, payload, read_for=WAIT))
    await asyncio.sleep(0.5)
    health = await _health_ms(port)
    line, seconds = await task
    return {"answer": line, "seconds": round(seconds, 2), "health_ms_meanwhile": round(health, 1)}


async def _simple(port: int, headers: list[tuple[str, str]], method: str = "GET") -> dict[str, Any]:
    line, seconds = await _exchange(port, _request(headers, method))
    return {"answer": line, "seconds": round(seconds, 2)}


async def slow_headers(port: int) -> dict[str, Any]:
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = "still open"
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: probe\r\nX-Slow: ")
        while time.monotonic() - start < WAIT:
            writer.write(b"a")
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1024), timeout=1.0)
            except TimeoutError:
                continue
            answer = data.split(b"\r\n", 1)[0].decode("latin-1") or "closed"
            break
    except ConnectionError:
        answer = "reset"
    finally:
        writer.close()
    return {"answer": answer, "seconds": round(time.monotonic() - start, 2)}


async def silent(port: int) -> dict[str, Any]:
    line, seconds = await _exchange(port, b"", read_for=WAIT)
    return {"answer": line if seconds < WAIT else "still open", "seconds": round(seconds, 2)}


async def idle(port: int) -> dict[str, Any]:
    request = b"GET /health HTTP/1.1\r\nHost: probe\r\n\r\n"  # keep-alive
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        answered = time.monotonic()
        try:
            async with asyncio.timeout(WAIT * 5):
                while await reader.read(65536):
                    pass
            closed: float | None = time.monotonic() - answered
        except TimeoutError:
            closed = None
    finally:
        writer.close()
    return {"closed_after_s": round(closed, 1) if closed is not None else "still open",
            "seconds": round(time.monotonic() - start, 2)}  # fmt: skip


async def head(port: int) -> dict[str, Any]:
    line, _ = await _exchange(port, _request([("Host", "probe")], "HEAD"))
    return {"answer": line}


async def run_all(port: int, skip: set[str]) -> dict[str, Any]:
    block = [(f"X-H{i}", "b" * 1000) for i in range(80)]
    probes: dict[str, Any] = {
        "huge_header": lambda: huge_header(port),
        "long_line": lambda: _simple(port, [("Host", "probe"), ("X-Long", "a" * 20 * 1024)]),
        "big_block": lambda: _simple(port, [("Host", "probe"), *block]),
        "ok_block": lambda: _simple(port, [("Host", "probe"), *block[:12]]),
        "no_host": lambda: _simple(port, []),
        "two_hosts": lambda: _simple(port, [("Host", "a"), ("Host", "b")]),
        "head": lambda: head(port),
        "slow_headers": lambda: slow_headers(port),
        "silent": lambda: silent(port),
        "idle": lambda: idle(port),
    }
    results = {}
    for name, probe in probes.items():
        if name not in skip:
            results[name] = await probe()
            print(f"{name}: {results[name]}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_probes", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--skip", default="", help="comma-separated probe names")
    args = parser.parse_args(argv)
    results = asyncio.run(run_all(args.port, set(filter(None, args.skip.split(",")))))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
