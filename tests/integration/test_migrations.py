"""Migrations: the entry point ECS runs before each rollout, and the schema's single source."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TypeVar

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
# docs and app/migration_lock.py: the first 8 bytes of sha256("auto-pipe:alembic-upgrade").
MIGRATION_LOCK_KEY_DOCUMENTED = int.from_bytes(
    hashlib.sha256(b"auto-pipe:alembic-upgrade").digest()[:8], "big", signed=True
)


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
    assert scratch_pg.psql("SELECT version_num FROM alembic_version", "entry") == "0002"
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
    result = run_migrate(url, "--attempts", "2", "--delay", "0.1")
    assert result.returncode == 3
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Bounded by attempts, not by time: exactly the two tries asked for, then it gives up.
    assert [line["attempt"] for line in lines if line["event"] == "database_not_ready"] == [1, 2]
    assert lines[-1]["event"] == "database_unreachable"


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


WHERE_HOLDER = " FROM pg_stat_activity WHERE application_name = 'migration-lock-holder'"


class AdvisoryHolder:
    """A psql session holding the migration lock, as a running migration would, until ended."""

    def __init__(self, server: PostgresServer, database: str, key: int) -> None:
        self.server, self.database = server, database
        sql = f"SELECT pg_advisory_lock({key}); SELECT pg_sleep(600);"
        env = {**os.environ, "PGAPPNAME": "migration-lock-holder"}
        self.process = subprocess.Popen(
            [str(server.bindir / "psql"), *server._psql_args(sql, database)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while self.holders() != 1:
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)

    def holders(self) -> int:
        return int(self.server.psql(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
            "l.locktype = 'advisory' AND l.granted AND a.application_name = "
            "'migration-lock-holder'", self.database))  # fmt: skip

    def end(self) -> None:
        self.server.psql("SELECT pg_terminate_backend(pid)" + WHERE_HOLDER, self.database)
        self.process.wait(timeout=30)


def _start_migrate(url: str, out: IO[str], *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "json"}
    return subprocess.Popen(
        [sys.executable, "-m", "app.migrate", *args], cwd=ROOT, env=env,
        stdout=out, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.mark.postgres
def test_two_concurrent_migrations_run_one_at_a_time(
    scratch_pg: PostgresServer, tmp_path: Path
) -> None:
    url = scratch_pg.create_database("twice")
    holder = AdvisoryHolder(scratch_pg, "twice", MIGRATION_LOCK_KEY_DOCUMENTED)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with ExitStack() as files:
        runners = [_start_migrate(url, files.enter_context(log.open("w"))) for log in logs]
        _race_after_the_holder(scratch_pg, holder, logs, runners)
    outputs = [log.read_text() for log in logs]
    assert scratch_pg.psql("SELECT version_num FROM alembic_version", "twice") == "0002"
    # The schema was applied once: one runner ran the revision, the other found it at head.
    assert sum("Running upgrade  -> 0001" in out for out in outputs) == 1, outputs
    assert all("migration_lock_acquired" in out for out in outputs)


def _race_after_the_holder(
    scratch_pg: PostgresServer,
    holder: AdvisoryHolder,
    logs: list[Path],
    runners: list[subprocess.Popen[str]],
) -> None:
    try:
        deadline = time.monotonic() + 60
        while not all("migration_lock_wait" in log.read_text() for log in logs):
            assert all(r.poll() is None for r in runners), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, "the runners did not wait for the lock"
            time.sleep(0.05)
        assert "items" not in scratch_pg.psql("SELECT string_agg(tablename, ',') FROM pg_tables "
                                              "WHERE schemaname = 'public'", "twice")  # fmt: skip
    finally:
        holder.end()  # the "first migration" ends: now the two race for the lock
        for runner, log in zip(runners, logs, strict=True):
            assert runner.wait(timeout=120) == 0, log.read_text()


@pytest.mark.postgres
def test_a_migration_gives_up_after_the_lock_timeout(
    scratch_pg: PostgresServer, tmp_path: Path
) -> None:
    url = scratch_pg.create_database("blocked")
    holder = AdvisoryHolder(scratch_pg, "blocked", MIGRATION_LOCK_KEY_DOCUMENTED)
    try:
        result = run_migrate(url, "--lock-timeout", "1")
        holder_pid = scratch_pg.psql("SELECT pid" + WHERE_HOLDER, "blocked")
    finally:
        holder.end()
    assert result.returncode == 4, result.stdout + result.stderr
    assert "migration_lock_timeout" in result.stdout
    assert f"backend pid {holder_pid}" in result.stdout
    assert "alembic_version" not in scratch_pg.psql(
        "SELECT coalesce(string_agg(tablename, ','), '') FROM pg_tables", "blocked"
    )


def test_sqlite_migrations_take_no_lock(tmp_path: Path) -> None:
    result = run_migrate(f"sqlite+aiosqlite:///{tmp_path}/app.db")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "migration_lock" not in result.stdout
    assert "Running upgrade  -> 0001" in result.stdout


def test_sqlite_ids_stay_unique_across_the_autoincrement_migration(tmp_path: Path) -> None:
    """Rows written before 0002 keep their ids, and the largest of them is never issued again."""
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    command.upgrade(alembic_config(url), "0001")
    sqlite = sqlite3.connect(tmp_path / "old.db")
    now = "2026-12-01 00:00:00"
    for name in ("a", "b", "c"):
        sqlite.execute(
            "INSERT INTO items (name, created_at, updated_at) VALUES (?, ?, ?)", (name, now, now)
        )
    sqlite.commit()
    command.upgrade(alembic_config(url), "head")
    rows = sqlite.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    assert rows == [(1, "a"), (2, "b"), (3, "c")]
    sqlite.execute("DELETE FROM items WHERE id = 3")
    sqlite.execute(
        "INSERT INTO items (name, created_at, updated_at) VALUES ('d', ?, ?)", (now, now)
    )
    assert sqlite.execute("SELECT id FROM items WHERE name = 'd'").fetchone() == (4,)
    sqlite.close()
