"""The service's own pool of asyncpg connections (app/items/pg_pool.py), against a real
PostgreSQL: it never holds more sessions than DB_POOL_SIZE, reuses the warmest one, gives back
only connections that are open and outside a transaction, skips one the server closed while it
sat idle, closes idle ones after their lifetime, and ends every session when it closes. What
PostgreSQL itself reports (`pg_stat_activity`) is the judge, not the pool's own bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.db import open_store
from app.items.pg_repository import AsyncpgItems
from testbed.pg import PostgresServer
from testbed.waiting import async_wait_for
from tests.conftest import PG_DATABASE, make_settings

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]
SIZE = 3
SLOW = "SELECT pg_backend_pid() FROM pg_sleep(0.05)"  # long enough for operations to overlap


def sessions(pg: PostgresServer) -> set[int]:
    """The backend pids of the service's sessions on the test database, as the server sees them."""
    out = pg.psql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'auto-pipe'",
        PG_DATABASE,
    )
    return {int(line) for line in out.split()}


async def pg_store(url: str) -> AsyncpgItems:
    store = await open_store(make_settings(database_url=url, db_pool_size=SIZE))
    assert isinstance(store, AsyncpgItems)
    return store


@pytest.fixture
async def store(pg_server: PostgresServer, pg_url: str) -> AsyncIterator[AsyncpgItems]:
    await async_wait_for(lambda: not sessions(pg_server), "no sessions left by earlier tests")
    store = await pg_store(pg_url)
    yield store
    await store.close()


async def backend_pid(store: AsyncpgItems, sql: str = "SELECT pg_backend_pid()") -> int:
    async with store.pool.operation() as connection:
        return int(await connection.fetchval(sql))


async def test_never_more_sessions_than_the_pool_size_and_the_warmest_is_reused(
    store: AsyncpgItems, pg_server: PostgresServer
) -> None:
    pids = await asyncio.gather(*(backend_pid(store, SLOW) for _ in range(6 * SIZE)))
    assert len(set(pids)) == SIZE  # all of them were needed, and no more were opened
    assert sessions(pg_server) == set(pids)
    # One at a time, every operation gets the connection the last one gave back.
    one_by_one = [await backend_pid(store) for _ in range(5)]
    assert len(set(one_by_one)) == 1
    assert sessions(pg_server) == set(pids)


async def test_a_connection_left_in_a_transaction_is_ended_not_reused(
    store: AsyncpgItems, pg_server: PostgresServer
) -> None:
    async with store.pool.operation() as connection:
        await connection.execute("BEGIN")  # and nobody commits or rolls back
        abandoned = await connection.fetchval("SELECT pg_backend_pid()")
    async with store.pool.operation() as connection:
        assert await connection.fetchval("SELECT pg_backend_pid()") != abandoned
        assert not connection.is_in_transaction()
    await async_wait_for(lambda: abandoned not in sessions(pg_server), "the session ended")


async def test_a_connection_the_server_closed_while_idle_is_skipped(
    store: AsyncpgItems, pg_server: PostgresServer
) -> None:
    first = await backend_pid(store)
    pg_server.psql(f"SELECT pg_terminate_backend({first})")
    ((idle, _),) = store.pool.idle
    await async_wait_for(idle.is_closed, "the client saw the session end")
    second = await backend_pid(store)  # no error: a fresh connection
    assert second != first
    assert sessions(pg_server) == {second}


async def test_idle_connections_are_closed_after_their_lifetime(
    store: AsyncpgItems, pg_server: PostgresServer
) -> None:
    store.pool.idle_lifetime = 0.5
    pids = await asyncio.gather(*(backend_pid(store, SLOW) for _ in range(SIZE)))
    assert sessions(pg_server) == set(pids)
    await async_wait_for(lambda: not sessions(pg_server), "idle sessions closed", limit=10)
    assert store.pool.idle == []
    await async_wait_for(lambda: not store.pool.closing, "the closing tasks ended and were let go")
    assert await backend_pid(store) not in pids  # and the pool opens a new one when asked


async def test_closing_the_pool_ends_every_session(pg_server: PostgresServer, pg_url: str) -> None:
    store = await pg_store(pg_url)
    pids = await asyncio.gather(*(backend_pid(store, SLOW) for _ in range(SIZE)))
    assert sessions(pg_server) == set(pids)
    await store.close()
    await async_wait_for(lambda: not sessions(pg_server), "every session ended")
