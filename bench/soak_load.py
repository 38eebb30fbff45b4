"""Steady load for the soak bench: a fixed request rate over a fixed pool of keep-alive
connections, in the API's mix of reads and writes.

Open loop: request i is due at start + i / rate whatever happened before it, and its latency
counts from when it was due, so a server that stalls is charged for the queue it causes instead
of the generator quietly slowing down with it. The connections only bound how many requests can
be outstanding; when all are busy a request goes out late, and `late` counts those.

Raw HTTP/1.1 over asyncio streams: http.client would need a thread per connection, and httpx
spends more CPU per request than we can spare on the core PostgreSQL shares with us.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter, deque
from dataclasses import dataclass, field

from app.items import cursor

READ_SHARE = 0.70  # GET /items/{id}: the hot path
LIST_SHARE = 0.15  # GET /items?limit=20&after=...: a page from a random place
# The remaining 15 % are writes, taken in turn create → update → delete. Deletes remove the
# oldest of a queue that starts with a reserve of extra seeded rows and takes every item this run
# creates: the delete after a create need not wait for that create's answer, the table keeps its
# size, and reads (and updates) of the seeded ids 1..items never 404.
WRITE_CYCLE = ("create", "update", "delete")
PAGE = 20
LATE_S = 0.010  # sent this much after its due time: every connection was busy
REQUEST_TIMEOUT_S = 10.0
SEED = 42


@dataclass
class Bucket:
    """What completed in one stretch of the run (a minute by default)."""

    ok: Counter[str] = field(default_factory=Counter)  # by operation
    errors: Counter[str] = field(default_factory=Counter)  # by kind: "HTTP 503", "timeout", ...
    late: int = 0
    latencies_ms: list[float] = field(default_factory=list)


@dataclass
class Tally:
    bucket_s: float
    buckets: list[Bucket]
    reconnects: int = 0  # keep-alive connections the server had closed while idle: not errors
    unsent: int = 0  # due, but every connection was still busy when the run ended

    def at(self, seconds: float) -> Bucket:
        # Requests due just before the end finish just after it: they count in the last bucket.
        return self.buckets[min(int(seconds // self.bucket_s), len(self.buckets) - 1)]


class Closed(Exception):
    """The server closed the connection (or broke the protocol) mid-request."""


class Mix:
    """What request slot i is: drawn from a seeded generator, so every run sees the same mix."""

    def __init__(self, items: int, api_key: str, reserve: list[int]) -> None:
        self.items = items
        self.rng = random.Random(SEED)
        self.writes = 0
        self.deletable = deque(reserve)  # oldest first
        self.key = api_key

    def next(self, slot: int) -> tuple[str, bytes]:
        draw = self.rng.random()
        if draw < READ_SHARE:
            op = "read"
        elif draw < READ_SHARE + LIST_SHARE:
            op = "list"
        else:
            op = WRITE_CYCLE[self.writes % len(WRITE_CYCLE)]
            self.writes += 1
        if op == "delete" and not self.deletable:
            op = "read"  # only if creates kept failing: the errors say so, the table grows
        return op, self._build(op, slot)

    def _build(self, op: str, slot: int) -> bytes:
        if op == "read":
            return _request("GET", f"/items/{self.rng.randint(1, self.items)}")
        if op == "list":
            # A page from anywhere in the table, as a client following `next` would reach it.
            after = cursor.encode(self.rng.randint(1, max(self.items - PAGE, 1)))
            return _request("GET", f"/items?limit={PAGE}&after={after}")
        if op == "create":
            body = {"name": f"soak {slot}", "description": "soak item " + "x" * 200}
            return _request("POST", "/items", body, key=self.key)
        if op == "update":
            body = {"description": f"updated by soak slot {slot}"}
            path = f"/items/{self.rng.randint(1, self.items)}"
            return _request("PATCH", path, body, key=self.key)
        return _request("DELETE", f"/items/{self.deletable.popleft()}", key=self.key)


def _request(method: str, path: str, body: dict[str, str] | None = None, *, key: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if key:
        head += f"X-API-Key: {key}\r\n"
    payload = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")  # the empty trailer section
        else:
            await reader.readexactly(int(headers.get("content-length", "0")))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as e:
        raise Closed(type(e).__name__) from e
    return status, headers


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes, tally: Tally) -> tuple[int, dict[str, str]]:
        if self.streams is not None and self.streams[0].at_eof():
            # uvicorn drops keep-alive connections idle for 75 s; a client reconnects.
            self.close()
            tally.reconnects += 1
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        writer.write(request)
        await writer.drain()
        status, headers = await _response(reader)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect refused"
    if isinstance(exc, Closed | ConnectionResetError | BrokenPipeError):
        return "connection closed"
    return f"socket {type(exc).__name__}"


async def run_load(
    port: int, *, rate: float, connections: int, start: float, duration: float,
    items: int, api_key: str, reserve: list[int], bucket_s: float = 60.0,
) -> Tally:  # fmt: skip
    """Requests due from `start` (a time.monotonic() instant) for `duration` seconds."""
    loop = asyncio.get_running_loop()
    mix = Mix(items, api_key, reserve)
    tally = Tally(bucket_s, [Bucket() for _ in range(max(1, -int(-duration // bucket_s)))])
    slots = iter(range(int(duration * rate)))
    end = start + duration

    async def worker() -> None:
        connection = Connection(port)
        for slot in slots:  # one shared iterator: each slot is taken by exactly one worker
            due = start + slot / rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if loop.time() >= end:
                # A server that fell behind must not stretch the run: what is left goes unsent.
                tally.unsent += 1
                continue
            late = loop.time() - due > LATE_S
            op, request = mix.next(slot)
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status, headers = await connection.exchange(request, tally)
            except (OSError, Closed, TimeoutError) as exc:
                connection.close()
                outcome = _error_kind(exc)
            else:
                outcome = "" if 200 <= status < 300 else f"HTTP {status} ({op})"
                created = headers.get("location", "").rsplit("/", 1)[-1]
                if op == "create" and not outcome:
                    if created.isdigit():
                        mix.deletable.append(int(created))
                    else:
                        outcome = "create without a Location"
            bucket = tally.at(loop.time() - start)
            bucket.late += late
            bucket.latencies_ms.append((loop.time() - due) * 1000)
            if outcome:
                bucket.errors[outcome] += 1
            else:
                bucket.ok[op] += 1
        connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return tally
