"""`python -m app` and `python -m app.migrate`, called in-process (the subprocess tests cover
the same paths for real; these keep the wiring measurable and fast)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import app.__main__ as serve
from app import migrate
from app.config import get_settings
from testbed.pg import free_port


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("API_KEYS", "DATABASE_URL", "ENV", "PORT", "HOST", "RELOAD", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_migrate_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "nested" / "app.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    assert migrate.main(["--attempts", "1"]) == 0
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"items", "alembic_version"} <= tables


def test_migrate_gives_up_with_code_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/x")
    assert migrate.main(["--attempts", "2", "--delay", "0.01"]) == 3


def test_migrate_bad_settings_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "none")
    assert migrate.main([]) == 2
    assert capsys.readouterr().err.startswith("error: invalid settings")


def test_serve_refuses_production_without_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENV", "production")
    assert serve.main() == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "API_KEYS must be set in production" in error


@pytest.mark.parametrize("reload", [False, True])
def test_serve_passes_settings_to_uvicorn(monkeypatch: pytest.MonkeyPatch, reload: bool) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WORKERS", "3")
    monkeypatch.setenv("SHUTDOWN_TIMEOUT", "7")
    monkeypatch.setenv("RELOAD", str(reload).lower())
    assert serve.main() == 0
    (call,) = calls
    assert call["app"] == "app.main:create_app"
    assert call["factory"] is True
    assert (call["host"], call["port"]) == ("127.0.0.1", 9123)
    assert call["workers"] == (None if reload else 3)
    assert call["reload"] is reload
    assert call["timeout_graceful_shutdown"] == 7
    assert call["access_log"] is False
    assert call["log_config"] is None
