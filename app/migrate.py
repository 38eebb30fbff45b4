"""`python -m app.migrate`: wait for the database (bounded retries), then `alembic upgrade head`.

Runs before every rollout (a one-off ECS task from the new revision) and in `make run`.
Exit codes: 0 migrated (or already at the target), 1 migration failed, 2 bad settings,
3 database never became reachable, 4 another migration held the migration lock past
--lock-timeout (nothing migrated; see app/migration_lock.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings
from app.db import create_engine
from app.errors import is_database_unavailable
from app.migration_lock import DEFAULT_LOCK_TIMEOUT, MigrationLockTimeout
from app.observability.logging import configure_logging

log = structlog.get_logger("app.migrate")
ROOT = Path(__file__).resolve().parent


def alembic_config(url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    config.attributes["lock_timeout"] = lock_timeout
    return config


async def _ping(settings: Settings, url: str) -> None:
    engine = create_engine(settings, url)
    try:
        async with asyncio.timeout(settings.db_connect_timeout + 1):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def wait_for_database(settings: Settings, url: str, *, attempts: int, delay: float) -> bool:
    for attempt in range(1, attempts + 1):
        try:
            asyncio.run(_ping(settings, url))
        except Exception as exc:
            if not (isinstance(exc, TimeoutError) or is_database_unavailable(exc)):
                raise
            log.warning("database_not_ready", attempt=attempt, of=attempts, error=str(exc)[:200])
            if attempt < attempts:
                time.sleep(min(delay * attempt, 10.0))
            continue
        return True
    return False


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.migrate", description=__doc__)
    parser.add_argument("--attempts", type=int, default=30, help="connection attempts")
    parser.add_argument("--delay", type=float, default=1.0, help="base seconds between attempts")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help="seconds to wait for another migration to finish (PostgreSQL advisory lock)",
    )
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"error: invalid settings: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json=settings.is_json_logs)
    url = settings.sqlalchemy_url
    _ensure_sqlite_dir(url)
    if not wait_for_database(settings, url, attempts=args.attempts, delay=args.delay):
        log.error("database_unreachable", attempts=args.attempts)
        return 3
    try:
        command.upgrade(alembic_config(url, lock_timeout=args.lock_timeout), args.revision)
    except MigrationLockTimeout as exc:
        log.error("migration_lock_timeout", error=str(exc), timeout_s=args.lock_timeout)
        return 4
    except Exception:
        log.exception("migration_failed")
        return 1
    log.info("migrated", revision=args.revision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
