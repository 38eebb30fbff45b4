"""Alembic environment: async engine from the app's settings, metadata from the app's tables."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app import migration_lock
from app.config import get_settings
from app.db import create_engine
from app.items.models import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    # app.migrate passes the URL it resolved; the alembic CLI falls back to the settings.
    url = config.attributes.get("database_url")
    return str(url) if url else get_settings().sqlalchemy_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(get_settings(), _url())
    timeout = float(config.attributes.get("lock_timeout", migration_lock.DEFAULT_LOCK_TIMEOUT))
    try:
        async with engine.connect() as connection:
            # Held for the whole upgrade, so a second runner waits, then finds nothing to do.
            await migration_lock.acquire(connection, wait=timeout)
            await connection.run_sync(_configure)
            await connection.commit()
            await migration_lock.release(connection)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
