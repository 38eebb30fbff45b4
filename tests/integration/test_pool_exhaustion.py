"""More concurrent slow requests than pooled connections: the excess gets a fast 503 with
Retry-After instead of queueing, and the service recovers by itself."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.main import create_app
from testbed.pg import PostgresServer
from testbed.waiting import async_wait_for
from tests.conftest import AUTH, PG_DATABASE, make_settings, running

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]
POOL = 2


async def test_pool_exhaustion_answers_503_fast_and_recovers(
    pg_server: PostgresServer, pg_url: str
) -> None:
    pg_server.psql("TRUNCATE items RESTART IDENTITY", PG_DATABASE)
    settings = make_settings(database_url=pg_url, db_pool_size=POOL, db_pool_timeout=0.5)
    async with running(create_app(settings)) as client:
        assert (await client.post("/items", json={"name": "x"}, headers=AUTH)).status_code == 201
        # PostgreSQL "answers slowly": every read waits ~2 s behind this lock.
        locker = pg_server.hold_items_lock(PG_DATABASE, 2)
        try:
            await async_wait_for(lambda: pg_server.items_lock_held(PG_DATABASE), "lock taken")

            async def get() -> tuple[httpx.Response, bool]:
                response = await client.get("/items/1", timeout=10)
                # Answered while the database still answers nobody: it did not queue.
                return response, locker.poll() is None

            results = await asyncio.gather(*(get() for _ in range(4 * POOL)))
        finally:
            await asyncio.to_thread(locker.wait, 10)
        served = [(r, early) for r, early in results if r.status_code == 200]
        shed = [(r, early) for r, early in results if r.status_code == 503]
        assert len(served) == POOL
        assert len(shed) == 3 * POOL
        for response, while_locked in shed:
            assert while_locked, "the excess waited for the database instead of failing fast"
            assert response.headers["retry-after"] == "5"
            assert response.headers["content-type"] == "application/problem+json"
        # No restart needed: the pool serves again as soon as PostgreSQL does.
        after = await asyncio.gather(*(client.get("/items/1") for _ in range(4 * POOL)))
        assert [r.status_code for r in after] == [200] * (4 * POOL)


async def test_a_connection_lost_inside_a_transaction_gives_its_slot_back(
    pg_server: PostgresServer, pg_url: str
) -> None:
    """An update runs in a transaction; when PostgreSQL drops the connection mid-way (a
    failover, a restart), asyncpg takes the connection back itself. The pool gate's slot must
    come back too: each one lost would shrink the service's capacity for good."""
    settings = make_settings(database_url=pg_url, db_pool_size=POOL, db_pool_timeout=0.5)
    async with running(create_app(settings)) as client:
        created = await client.post("/items", json={"name": "x"}, headers=AUTH)
        assert created.status_code == 201
        url = created.headers["location"]
        locker = pg_server.hold_items_lock(PG_DATABASE, 2)
        try:
            await async_wait_for(lambda: pg_server.items_lock_held(PG_DATABASE), "lock taken")
            pages = [
                asyncio.create_task(client.patch(url, json={"name": "y"}, headers=AUTH))
                for _ in range(POOL)
            ]
            # Both updates now wait on the lock, inside a transaction.
            await async_wait_for(
                lambda: pg_server.waiting_on_locks(PG_DATABASE) >= POOL, "updates blocked"
            )
            pg_server.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'auto-pipe'"
            )
            assert [(await p).status_code for p in pages] == [503] * POOL
        finally:
            await asyncio.to_thread(locker.wait, 10)
        # Both slots are free again: two reads held inside PostgreSQL at once both get one.
        locker = pg_server.hold_items_lock(PG_DATABASE, 1)
        try:
            await async_wait_for(lambda: pg_server.items_lock_held(PG_DATABASE), "lock taken")
            held = await asyncio.gather(*(client.get("/items") for _ in range(POOL)))
        finally:
            await asyncio.to_thread(locker.wait, 10)
        assert [r.status_code for r in held] == [200] * POOL, [r.text for r in held]
