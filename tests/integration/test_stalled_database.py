"""PostgreSQL stops answering (every one of its processes SIGSTOPped: connections stay open,
nothing comes back, the server's own statement timeout cannot fire) for 30 s while a mixed load
runs against the service as a real process. Every request is answered within
DB_STATEMENT_TIMEOUT + 2 s (success, or 503 + Retry-After), /health stays fast, and the whole
pool serves again within 5 s of the database resuming."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import API_KEY, AUTH, migrate
from tests.support.live import LiveServer
from tests.support.pg import PostgresServer

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.live]

STATEMENT_TIMEOUT = 1.5  # small, so that the test's bound is small too
BOUND = STATEMENT_TIMEOUT + 2  # the promise for every request
STALL = 30.0
POOL = 4
WORKERS = 6  # more than the pool: some wait at the gate, some hold a connection
HEALTH_BOUND = 1.0  # liveness never touches the database: it answers as fast as the loop does
RECOVERY = 5.0


@dataclass
class Log:
    requests: list[tuple[str, int, float]] = field(default_factory=list)  # what, status, seconds
    bad: list[str] = field(default_factory=list)


async def _timed(log: Log, what: str, call: asyncio.Future[httpx.Response]) -> httpx.Response:
    started = time.monotonic()
    response = await call
    elapsed = time.monotonic() - started
    log.requests.append((what, response.status_code, elapsed))
    if response.status_code == 503:
        if not response.headers.get("retry-after", "").isdigit():
            log.bad.append(f"{what} 503 without Retry-After")
        if response.headers.get("content-type") != "application/problem+json":
            log.bad.append(f"{what} 503 without problem+json")
    elif response.status_code >= 300:
        log.bad.append(f"{what} {response.status_code}: {response.text[:200]}")
    return response


async def _worker(client: httpx.AsyncClient, log: Log, n: int, stop: asyncio.Event) -> None:
    for step in itertools.count():
        if stop.is_set():
            return
        post = client.post("/items", json={"name": f"w{n}-{step}"}, headers=AUTH)
        await _timed(log, "POST /items", asyncio.ensure_future(post))
        await _timed(log, "GET /items/1", asyncio.ensure_future(client.get("/items/1")))
        await _timed(log, "GET /items", asyncio.ensure_future(client.get("/items?limit=5")))


async def _probe(client: httpx.AsyncClient, path: str, log: Log) -> None:
    while True:
        await _timed(log, path, asyncio.ensure_future(client.get(path)))
        await asyncio.sleep(0.1)


async def _whole_pool_serves(client: httpx.AsyncClient, pg: PostgresServer) -> bool:
    """POOL reads held inside PostgreSQL at once all get a connection: none was lost."""
    locker = pg.hold_items_lock("stall", 1.2)
    try:
        await asyncio.sleep(0.2)
        held = await asyncio.gather(*(client.get("/items/1") for _ in range(POOL)))
    finally:
        await asyncio.to_thread(locker.wait, 10)
    return [r.status_code for r in held] == [200] * POOL


@contextlib.contextmanager
def _serving(env: dict[str, str]) -> Iterator[LiveServer]:
    server = LiveServer(env)
    try:
        yield server.start(timeout=60)  # a busy machine can take long to import the app
    finally:
        server.stop()


@pytest.fixture
def url(outage_pg: PostgresServer) -> str:
    url = outage_pg.create_database("stall")
    migrate(url)
    return url


async def test_a_stalled_database_bounds_every_request(outage_pg: PostgresServer, url: str) -> None:
    env = {
        "DATABASE_URL": url,
        "API_KEYS": API_KEY,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": str(POOL),
        "DB_POOL_TIMEOUT": "1",
        "DB_CONNECT_TIMEOUT": "1",
        "DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "READY_TIMEOUT": "1",
    }
    load, probes = Log(), Log()
    with _serving(env) as server:
        limits = httpx.Limits(max_connections=WORKERS + 4)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            assert (
                await client.post("/items", json={"name": "x"}, headers=AUTH)
            ).status_code == 201
            stop = asyncio.Event()
            tasks = [asyncio.create_task(_worker(client, load, n, stop)) for n in range(WORKERS)]
            watchers = [
                asyncio.create_task(_probe(client, "/health", probes)),
                asyncio.create_task(_probe(client, "/ready", probes)),
            ]
            await asyncio.sleep(1.5)
            served_before = len(load.requests)
            outage_pg.signal_all(signal.SIGSTOP)
            try:
                await asyncio.sleep(STALL)
            finally:
                outage_pg.signal_all(signal.SIGCONT)
            resumed = time.monotonic()
            stop.set()
            await asyncio.gather(*tasks)
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            while not await _whole_pool_serves(client, outage_pg):
                assert time.monotonic() - resumed < RECOVERY, "pool not whole 5 s after resume"
            recovered = time.monotonic() - resumed
            assert recovered <= RECOVERY, f"pool whole only {recovered:.2f} s after resume"
        lines = server.json_lines()
        errors = [line for line in lines if line.get("level") == "error"]
        expired = [line for line in lines if line.get("event") == "database_wait_expired"]

    assert errors == [], errors[:2]
    assert load.bad == [], load.bad[:3]
    assert probes.bad == [], probes.bad[:3]
    slowest = max(load.requests, key=lambda r: r[2])
    assert slowest[2] <= BOUND, f"{slowest} took longer than the statement timeout + 2 s"
    health = [t for what, _, t in probes.requests if what == "/health"]
    assert max(health) <= HEALTH_BOUND, f"/health took {max(health):.2f} s"
    assert len(health) > STALL * 5, "the liveness probe was held up"
    ready = [t for what, _, t in probes.requests if what == "/ready"]
    assert max(ready) <= BOUND
    stalled = [r for r in load.requests[served_before:] if r[1] == 503]
    assert len(stalled) > WORKERS, "the stall must have been felt"
    assert expired, "connections held by the stalled server were closed by the client"
    print(
        f"\nstalled database: {len(load.requests)} requests, {len(stalled)} answered 503, "
        f"slowest {slowest[2]:.2f} s ({slowest[0]}); /health max {max(health) * 1000:.0f} ms; "
        f"whole pool back {recovered:.2f} s after resume"
    )
