"""One `alembic upgrade` at a time per database: a PostgreSQL session-level advisory lock held for
the whole upgrade (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS).

Two runners (a re-run after an interrupted deploy, a person at a terminal, two pipelines): the
second waits for the first, then finds the schema at head and does nothing. The wait is bounded
(`python -m app.migrate --lock-timeout`, default 300 s, well inside the deployer's 600 s
`migration_timeout`): past it the runner gives up with exit 4 and names the holder's backend pid.
The lock goes with the session, so a runner that dies frees it. SQLite (one file, one process
writing) takes no lock.

The key is fixed so every copy of the app agrees on it: the first 8 bytes of
sha256("auto-pipe:alembic-upgrade") as a signed bigint. Polling `pg_try_advisory_lock` instead of
blocking in `pg_advisory_lock` keeps each statement short (the driver's command timeout is the
app's statement timeout) and lets the wait log who it waits for.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import AppError

MIGRATION_LOCK_KEY = 8970154898096406611
DEFAULT_LOCK_TIMEOUT = 300.0
POLL = 0.5
log = structlog.get_logger("app.migrate")


class MigrationLockTimeout(AppError):
    """Another migration held the lock for longer than the runner would wait."""


async def acquire(connection: AsyncConnection, *, wait: float) -> None:
    """Take the advisory lock on `connection` (PostgreSQL only), waiting at most `wait` s."""
    if connection.dialect.name != "postgresql":
        return
    started = time.monotonic()
    logged_at = -10.0
    while True:
        taken = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY}
        )
        await connection.commit()  # end the implicit transaction; the session keeps the lock
        waited = time.monotonic() - started
        if taken:
            log.info("migration_lock_acquired", key=MIGRATION_LOCK_KEY, waited_s=round(waited, 3))
            return
        holder = await _holder(connection)
        if waited >= wait:
            raise MigrationLockTimeout(
                f"another migration (backend pid {holder}) held the migration lock for more "
                f"than {wait:g}s; nothing was migrated"
            )
        if waited - logged_at >= 10.0:  # a line every 10 s while waiting
            log.info("migration_lock_wait", holder_pid=holder, waited_s=round(waited, 3),
                     timeout_s=wait)  # fmt: skip
            logged_at = waited
        await asyncio.sleep(min(POLL, max(0.0, wait - waited)))


async def release(connection: AsyncConnection) -> None:
    if connection.dialect.name != "postgresql":
        return
    await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
    await connection.commit()


async def _holder(connection: AsyncConnection) -> int | None:
    """The backend holding our key (bigint keys show as classid = high, objid = low 32 bits)."""
    pid = await connection.scalar(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid::bigint = :high AND objid::bigint = :low LIMIT 1"
        ),
        {"high": (MIGRATION_LOCK_KEY >> 32) & 0xFFFFFFFF, "low": MIGRATION_LOCK_KEY & 0xFFFFFFFF},
    )
    await connection.commit()
    return int(pid) if pid is not None else None
