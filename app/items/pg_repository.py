"""The PostgreSQL store: the same Core statements, compiled once to PostgreSQL SQL and run on
an asyncpg pool. The read path is the hot path; going through the driver directly costs about a
fifth of the CPU of an ORM-layer round trip (see bench/README.md)."""

from __future__ import annotations

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
from app.items.pg_pool import BoundedPool, set_tcp_options
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


class AsyncpgItems:
    def __init__(self, pool: BoundedPool) -> None:
        self.pool = pool
        self._acquire = pool.operation

    @classmethod
    async def connect(cls, settings: Settings, url: str) -> AsyncpgItems:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        server_settings = {
            "application_name": "auto-pipe",
            # Enforced by the server (57014 → 503), and on the client side by the pool's
            # watchdog (app/items/pg_pool.py), for a server that is stalled.
            "statement_timeout": str(int(settings.db_statement_timeout * 1000)),
        }

        async def connect() -> asyncpg.Connection:
            connection = await asyncpg.connect(
                dsn, timeout=settings.db_connect_timeout, server_settings=server_settings
            )
            try:
                set_tcp_options(connection, settings.db_tcp_keepalive)
            except BaseException:
                connection.terminate()
                raise
            return connection

        bounded = BoundedPool(
            connect,
            size=settings.db_pool_size,
            acquire_timeout=settings.db_pool_timeout,
            statement_timeout=settings.db_statement_timeout,
            retry_after=settings.retry_after_seconds,
        )
        return cls(bounded)

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
        await self.pool.close()


def _now() -> datetime:
    return datetime.now(UTC)
