"""PostgreSQL stops and starts again while a mixed read/write load runs against the service as
a real process: liveness never wavers, readiness tells the truth within 5 s each way, nothing
answers 500, every refused write says 503 + Retry-After, and every acknowledged write is there
afterwards. The process is never restarted."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import httpx
import pytest

from testbed.pg import PostgresServer
from testbed.waiting import async_wait_for
from tests.conftest import API_KEY, AUTH, migrate
from tests.support.live import LiveServer

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.live]

WORKERS = 6
POOL = (
    8  # DB_POOL_SIZE: more than the workers and probes, so lost slots stay unnoticed unless checked
)
PAUSE = 0.01  # between one worker's requests: a bounded load, not a flood
OUTAGE = 3.0  # seconds PostgreSQL stays down
BOUND = 5.0  # readiness must follow the database within this, both ways


@dataclass
class Record:
    acknowledged: dict[int, tuple[str, int]] = field(default_factory=dict)  # id → name, version
    # A rename answered 503 may still have committed (the answer, not the write, was lost):
    # either state is then correct, but nothing else.
    maybe: dict[int, tuple[str, int]] = field(default_factory=dict)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # responses that break the contract
    refused_writes: int = 0


def _check(record: Record, method: str, response: httpx.Response) -> None:
    record.statuses.append((method, response.status_code))
    if response.status_code == 503:
        if response.headers.get("content-type") != "application/problem+json":
            record.bad.append(f"{method} 503 without problem+json: {response.text[:200]}")
        if not response.headers.get("retry-after", "").isdigit():
            record.bad.append(f"{method} 503 without Retry-After")
        if method != "GET":
            record.refused_writes += 1
    elif response.status_code >= 300:
        record.bad.append(f"{method} {response.status_code}: {response.text[:200]}")


async def _worker(client: httpx.AsyncClient, record: Record, n: int, stop: asyncio.Event) -> None:
    """Create an item, read it, rename it, list; over and over."""
    for step in itertools.count():
        if stop.is_set():
            return
        name = f"w{n}-{step}"
        created = await client.post("/items", json={"name": name}, headers=AUTH)
        _check(record, "POST", created)
        if created.status_code == 201:
            item = created.json()
            record.acknowledged[item["id"]] = (name, 1)
            _check(record, "GET", await client.get(f"/items/{item['id']}"))
            renamed = await client.patch(
                f"/items/{item['id']}", json={"name": f"{name}-renamed"}, headers=AUTH
            )
            _check(record, "PATCH", renamed)
            if renamed.status_code == 200:
                record.acknowledged[item["id"]] = (f"{name}-renamed", 2)
            elif renamed.status_code == 503:
                record.maybe[item["id"]] = (f"{name}-renamed", 2)
        _check(record, "GET", await client.get("/items", params={"limit": 5}))
        await asyncio.sleep(PAUSE)


async def _probe(client: httpx.AsyncClient, path: str, log: list[tuple[float, int]]) -> None:
    while True:
        log.append((time.monotonic(), (await client.get(path)).status_code))
        await asyncio.sleep(0.1)


@pytest.fixture
def url(outage_pg: PostgresServer) -> str:
    url = outage_pg.create_database("outage_load")
    migrate(url)  # Alembic runs its own event loop: not inside the test's
    return url


async def test_outage_under_load_loses_nothing(outage_pg: PostgresServer, url: str) -> None:
    env = {
        "DATABASE_URL": url,
        "API_KEYS": API_KEY,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": str(POOL),
        "DB_CONNECT_TIMEOUT": "1",
        "DB_POOL_TIMEOUT": "1",
        "READY_TIMEOUT": "1",
    }
    record = Record()
    health: list[tuple[float, int]] = []
    ready: list[tuple[float, int]] = []
    with LiveServer(env) as server:
        assert server.process is not None
        pid = server.process.pid
        limits = httpx.Limits(max_connections=WORKERS + 2)
        async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as client:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(_worker(client, record, n, stop)) for n in range(WORKERS)]
            probes = [
                asyncio.create_task(_probe(client, "/health", health)),
                asyncio.create_task(_probe(client, "/ready", ready)),
            ]
            # The outage starts under load that means something: 50 writes acknowledged.
            await async_wait_for(lambda: len(record.acknowledged) > 50, "load before the outage")
            stopped = time.monotonic()
            await asyncio.to_thread(outage_pg.stop)
            await asyncio.sleep(OUTAGE)
            await asyncio.to_thread(outage_pg.start)  # returns once it accepts connections
            restarted = time.monotonic()
            await asyncio.sleep(BOUND + 1)
            stop.set()
            await asyncio.gather(*tasks)
            for probe in probes:
                probe.cancel()
            await asyncio.gather(*probes, return_exceptions=True)

            # The whole pool is back: POOL reads held inside PostgreSQL at once all get a
            # connection (one lost to the outage would leave a read waiting past the 1 s pool
            # timeout: a 503).
            item_id = next(iter(record.acknowledged))
            locker = outage_pg.hold_items_lock("outage_load", 1.5)
            try:
                await asyncio.sleep(0.3)
                held = await asyncio.gather(*(client.get(f"/items/{item_id}") for _ in range(POOL)))
            finally:
                await asyncio.to_thread(locker.wait, 10)
            assert [r.status_code for r in held] == [200] * POOL, [r.text for r in held][:2]

            # Every write the service acknowledged is there, as acknowledged.
            for item_id, (name, version) in record.acknowledged.items():
                stored = await client.get(f"/items/{item_id}")
                assert stored.status_code == 200, (item_id, stored.text)
                found = (stored.json()["name"], int(stored.headers["etag"].strip('"')))
                assert found in {(name, version), record.maybe.get(item_id)}, (item_id, found)
        assert server.process.poll() is None  # still the same process: no restart
        assert server.process.pid == pid
        errors = [line for line in server.json_lines() if line.get("level") == "error"]

    assert errors == [], [e.get("exception") for e in errors[:2]]
    assert record.bad == []
    assert all(status == 200 for _, status in health), "liveness must ignore the database"
    assert record.refused_writes > 0, "the outage must have been felt by writes"

    down = next(t for t, status in ready if t > stopped and status == 503)
    assert down - stopped < BOUND, f"/ready took {down - stopped:.1f} s to report the outage"
    back = next(t for t, status in ready if t > restarted and status == 200)
    assert back - restarted < BOUND, f"/ready took {back - restarted:.1f} s to recover"
    assert all(status == 200 for t, status in ready if t > back)
    print(
        f"\noutage under load: {len(record.statuses)} requests, {record.refused_writes} writes "
        f"refused with 503, {len(record.acknowledged)} items acknowledged and read back; /ready "
        f"503 after {down - stopped:.2f} s, 200 again {back - restarted:.2f} s after restart"
    )
