"""Probes and version: what ECS, the ALB and the deployer read."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from tests.conftest import make_settings, running

pytestmark = pytest.mark.asyncio


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_round_trips_to_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_version_reports_build_settings(database_url: str) -> None:
    settings = make_settings(
        database_url=database_url, git_sha="0123abc", image_tag="sha-0123abc", app_version="9.9.9"
    )
    async with running(create_app(settings)) as client:
        response = await client.get("/version")
    assert response.json() == {"version": "9.9.9", "git_sha": "0123abc", "image_tag": "sha-0123abc"}


async def test_ready_fails_with_problem_when_database_is_missing(tmp_path: object) -> None:
    # A SQLite path in a directory that does not exist: the round-trip fails.
    settings = make_settings(database_url="sqlite+aiosqlite:////nonexistent-dir/x/app.db")
    async with running(create_app(settings)) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.headers["retry-after"] == "5"
    assert ready.json()["status"] == 503


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/items"]) == {"get", "post"}
    assert set(paths["/items/{item_id}"]) == {"get", "put", "patch", "delete"}
    assert {"/health", "/ready", "/version"} <= set(paths)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    assert "security" in paths["/items"]["post"]
    assert "security" not in paths["/items"]["get"]
    item = schema["components"]["schemas"]["ItemCreate"]
    assert item["properties"]["name"]["maxLength"] == 100
    assert item["additionalProperties"] is False
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
