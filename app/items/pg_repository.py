"""The PostgreSQL store: the same Core statements, compiled once to PostgreSQL SQL and run on
an asyncpg pool. The read path is the hot path; going through the driver directly costs about a
fifth of the CPU of an ORM-layer round trip (see bench/README.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from app.config import Settings
from app.items import queries
from app.items.store import Item, missing_or_stale

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class Compiled:
    """SQL text with `$n` placeholders, and how to order named values into them."""

    def __init__(self, stmt: ClauseElement) -> None:
        compiled = cast(SQLCompiler, stmt.compile(dialect=_DIALECT))
        self.sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        self._defaults = compiled.params  # literals SQLAlchemy turned into parameters

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[n] if n in values else self._defaults[n] for n in self._names]


GET = Compiled(queries.GET)
PAGE = Compiled(queries.PAGE)
INSERT = Compiled(queries.INSERT)
CURRENT_VERSION = Compiled(queries.CURRENT_VERSION)


@cache
def _update(columns: tuple[str, ...], conditional: bool) -> Compiled:
    return Compiled(queries.update(columns, conditional=conditional, postgres=True))


@cache
def _delete(conditional: bool) -> Compiled:
    return Compiled(queries.delete(conditional=conditional, postgres=True))


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """No reset on release: we never change session state (no SET, LISTEN or advisory locks),
    so asyncpg's default reset would be one more round trip per request for nothing."""


_BROKEN = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


class _Connection:
    """A pooled connection, handed out first come, first served.

    asyncpg's pool queue lets a newcomer take a connection that was just released for a
    waiter, so under load some requests wait many times longer than others (p99 in the
    hundreds of ms at 64 connections on a pool of 10). A FIFO semaphore in front keeps the
    wait fair and bounded; past `timeout` the caller gets TimeoutError, answered as a 503.
    """

    __slots__ = ("_acquired", "_store")

    def __init__(self, store: AsyncpgItems) -> None:
        self._store = store
        self._acquired: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        store = self._store
        if store.gate.locked():  # only a wait needs a deadline (a timer per request is not free)
            async with asyncio.timeout(store.acquire_timeout):
                await store.gate.acquire()
        else:
            await store.gate.acquire()
        try:
            # No timeout here: the gate guarantees a free slot, and opening a new connection is
            # bounded by the pool's connect timeout (asyncpg wraps a timed acquire in a task).
            self._acquired = store.pool.acquire()
            connection: asyncpg.Connection = await self._acquired.__aenter__()
            return connection
        except BaseException:
            store.gate.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        # The gate's slot comes back whatever happens below: a slot lost here is lost for the
        # life of the process, and after `db_pool_size` of them every request would be a 503.
        try:
            if isinstance(exc[1], _BROKEN):
                # A server error (PostgresError) leaves the connection usable; these may leave
                # it mid-protocol, and with no reset on release it would go back to the pool
                # broken. asyncpg may have taken it back already (a lost connection inside a
                # transaction): then there is nothing left to terminate.
                with contextlib.suppress(asyncpg.InterfaceError):
                    self._acquired.connection.terminate()
            await self._acquired.__aexit__(*exc)
        finally:
            self._store.gate.release()


class AsyncpgItems:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.acquire_timeout = settings.db_pool_timeout
        self.gate = asyncio.Semaphore(settings.db_pool_size)  # FIFO since Python 3.11

    @classmethod
    async def connect(cls, settings: Settings, url: str) -> AsyncpgItems:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(
            dsn,
            min_size=0,  # start even when the database is down; /ready tells the truth
            max_size=settings.db_pool_size,
            timeout=settings.db_connect_timeout,
            max_inactive_connection_lifetime=300,
            # The statement timeout is enforced by the server (57014 → 503): a client-side
            # command_timeout would arm a timer around every query on the hot path.
            server_settings={
                "application_name": "auto-pipe",
                "statement_timeout": str(int(settings.db_statement_timeout * 1000)),
            },
            reset=_keep_session,
        )
        return cls(pool, settings)

    def _acquire(self) -> _Connection:
        return _Connection(self)

    async def get(self, item_id: int) -> Item | None:
        async with self._acquire() as conn:
            row = await conn.fetchrow(GET.sql, item_id)
        return dict(row) if row is not None else None

    async def page(self, after: int, limit: int, offset: int) -> Sequence[Item]:
        args = PAGE.args({"after": after, "limit": limit, "offset": offset})
        async with self._acquire() as conn:
            rows = await conn.fetch(PAGE.sql, *args)
        return [dict(r) for r in rows]

    async def create(self, values: dict[str, Any]) -> Item:
        async with self._acquire() as conn:
            row = await conn.fetchrow(INSERT.sql, *INSERT.args({**values, "now": _now()}))
        if row is None:  # INSERT ... RETURNING always returns its row
            raise RuntimeError("INSERT returned no row")
        return dict(row)

    async def update(
        self, item_id: int, values: dict[str, Any], if_match: frozenset[int] | None
    ) -> Item:
        stmt = _update(tuple(sorted(values)), if_match is not None)
        params = {**values, "item_id": item_id, "now": _now(), "versions": list(if_match or ())}
        async with self._acquire() as conn, conn.transaction():
            row = await conn.fetchrow(stmt.sql, *stmt.args(params))
            if row is None:
                missing_or_stale(item_id, await conn.fetchval(CURRENT_VERSION.sql, item_id))
        return dict(row)

    async def delete(self, item_id: int, if_match: frozenset[int] | None) -> None:
        stmt = _delete(if_match is not None)
        params = {"item_id": item_id, "versions": list(if_match or ())}
        async with self._acquire() as conn, conn.transaction():
            if await conn.fetchrow(stmt.sql, *stmt.args(params)) is None:
                missing_or_stale(item_id, await conn.fetchval(CURRENT_VERSION.sql, item_id))

    async def ping(self) -> None:
        async with self._acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pool.close(), timeout=5)
        except TimeoutError:
            self.pool.terminate()


def _now() -> datetime:
    return datetime.now(UTC)
