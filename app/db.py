"""Storage set-up: one bounded pool per process, built in the lifespan, never at import.

PostgreSQL is served by the asyncpg store (the hot path, no ORM layer in between); everything
else, SQLite by default, by the SQLAlchemy store. Migrations always go through SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings
from app.items.pg_repository import AsyncpgItems
from app.items.repository import SqlAlchemyItems
from app.items.store import ItemStore


def engine_options(url: URL, settings: Settings) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": settings.db_pool_timeout}}
    return {
        "pool_size": settings.db_pool_size,
        # A hard bound: past pool_size, callers wait db_pool_timeout, then get a fast 503.
        "max_overflow": 0,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": 1800,
        "connect_args": {
            "timeout": settings.db_connect_timeout,
            "command_timeout": settings.db_statement_timeout,
            "server_settings": {"application_name": "auto-pipe"},
        },
    }


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    sa_url = make_url(url or settings.sqlalchemy_url)
    engine = create_async_engine(sa_url, **engine_options(sa_url, settings))
    if sa_url.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; NORMAL is durable enough with WAL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


async def open_store(settings: Settings, url: str | None = None) -> ItemStore:
    sa_url = url or settings.sqlalchemy_url
    if make_url(sa_url).get_backend_name() == "postgresql":
        return await AsyncpgItems.connect(settings, sa_url)
    return SqlAlchemyItems(create_engine(settings, sa_url))
