"""Shared fixtures: a real PostgreSQL cluster per run, a migrated SQLite template, and an
in-process client for the app on either backend."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.migrate import alembic_config
from testbed.pg import PostgresServer, PostgresUnavailable
from tests.support.cpython_ast import serialize_ast_parse

serialize_ast_parse()  # before any test module is imported: see tests/support/cpython_ast.py

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_DATABASE = "autopipe_test"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "api_keys": (API_KEY,),
        "log_level": "WARNING",
        "log_format": "json",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def unavailable(what: str, reason: object) -> NoReturn:
    """A missing dependency: a failure in CI (never a skip hiding it), a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"CI must run {what}: {reason}")
    pytest.skip(str(reason))


def start_postgres(**kwargs: Any) -> PostgresServer:
    """A fresh cluster; in CI a missing server is a failure, never a skip."""
    try:
        server = PostgresServer(**kwargs).init()
    except PostgresUnavailable as exc:
        unavailable("the PostgreSQL tests", exc)
    server.start()
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> str:
    url = pg_server.create_database(PG_DATABASE)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test gets an empty, migrated database on the backend it is parametrized with."""
    if request.param == "sqlite":
        path = tmp_path / "app.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    server: PostgresServer = request.getfixturevalue("pg_server")
    server.psql("TRUNCATE items RESTART IDENTITY", PG_DATABASE)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c


class running:
    """`async with running(app) as client`: lifespan started, HTTP over the ASGI transport."""

    def __init__(self, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        self._manager = LifespanManager(app)
        self._raise = raise_app_exceptions
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        manager = await self._manager.__aenter__()
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=self._raise)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        await self._client.aclose()
        await self._manager.__aexit__(None, None, None)
