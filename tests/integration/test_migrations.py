"""Migrations: the entry point ECS runs before each rollout, and the schema's single source."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.items.models import metadata
from app.migrate import alembic_config
from testbed.pg import PostgresServer, free_port
from tests.conftest import start_postgres
from tests.support.live import ROOT

T = TypeVar("T")


def run_migrate(url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "app.migrate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def on_database(url: str, fn: Callable[[Connection], T]) -> T:
    """Run a synchronous inspection against the database through the app's async drivers."""

    async def inner() -> T:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(inner())


def _tables(connection: Connection) -> list[str]:
    return inspect(connection).get_table_names()


@pytest.fixture(scope="module")
def scratch_pg() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.destroy()


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


@pytest.mark.postgres
def test_migrate_entry_point_on_postgres(scratch_pg: PostgresServer) -> None:
    url = scratch_pg.create_database("entry")
    result = run_migrate(url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert scratch_pg.psql("SELECT version_num FROM alembic_version", "entry") == "0001"
    again = run_migrate(url)  # idempotent: a re-run of the same revision changes nothing
    assert again.returncode == 0


@pytest.mark.postgres
def test_migrate_waits_for_the_database(scratch_pg: PostgresServer, tmp_path: Path) -> None:
    url = scratch_pg.create_database("late")
    scratch_pg.stop()
    env = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "json"}
    log = tmp_path / "migrate.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.migrate", "--attempts", "60", "--delay", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while "database_not_ready" not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "never tried to connect"
                time.sleep(0.1)
        finally:
            scratch_pg.start()
        assert process.wait(timeout=60) == 0, log.read_text()
    assert scratch_pg.psql("SELECT count(*) FROM items", "late") == "0"


def test_migrate_gives_up_after_bounded_attempts() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    started = time.monotonic()
    result = run_migrate(url, "--attempts", "2", "--delay", "0.1")
    assert result.returncode == 3
    assert "database_unreachable" in result.stdout
    assert time.monotonic() - started < 30


def test_migrate_rejects_bad_settings() -> None:
    env = {**os.environ, "DB_POOL_SIZE": "zero"}
    result = subprocess.run(
        [sys.executable, "-m", "app.migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid settings")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_models_match_migrations_and_downgrade_works(
    backend: str, request: pytest.FixtureRequest, tmp_path: object
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/schema.db"
    else:
        server: PostgresServer = request.getfixturevalue("scratch_pg")
        url = server.create_database("schema")
    config = alembic_config(url)
    command.upgrade(config, "head")
    assert on_database(url, _diff) == [], "models and migrations disagree"
    command.downgrade(config, "base")
    assert "items" not in on_database(url, _tables)
    command.upgrade(config, "head")
    assert "items" in on_database(url, _tables)
