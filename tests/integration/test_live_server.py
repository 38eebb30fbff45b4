"""The service as a real uvicorn process: real HTTP, JSON logs on stdout, SIGTERM drain."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from testbed.pg import PostgresServer
from testbed.waiting import async_wait_for, wait_for
from tests.conftest import API_KEY, AUTH, PG_DATABASE, make_settings
from tests.support.live import LiveServer

pytestmark = pytest.mark.live


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    with LiveServer({"DATABASE_URL": database_url, "API_KEYS": API_KEY}) as server:
        yield server


def test_access_log_is_one_json_line_per_request(live: LiveServer) -> None:
    created = httpx.post(f"{live.url}/items", json={"name": "logged"}, headers=AUTH)
    item_url = f"{live.url}/items/{created.json()['id']}"
    read = httpx.get(item_url, headers={"X-Request-ID": "trace-me-42"})
    assert read.headers["x-request-id"] == "trace-me-42"

    def mine_logged() -> list[dict[str, Any]]:
        return [line for line in live.json_lines() if line.get("request_id") == "trace-me-42"]

    wait_for(mine_logged, "the access line of the GET")
    lines = live.json_lines()
    access = [line for line in lines if line.get("event") == "request"]
    mine = [line for line in access if line.get("request_id") == "trace-me-42"]
    assert len(mine) == 1
    line = mine[0]
    assert line["method"] == "GET"
    assert line["route"] == "/items/{item_id}"
    assert line["path"] == f"/items/{created.json()['id']}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    # The same line is a CloudWatch EMF record: RED metrics by Service and Route.
    emf = line["_aws"]
    directive = emf["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AutoPipe"
    assert ["Service", "Route"] in directive["Dimensions"]
    assert {m["Name"] for m in directive["Metrics"]} == {"RequestCount", "ErrorCount", "Latency"}
    assert abs(emf["Timestamp"] / 1000 - time.time()) < 60
    assert line["Service"] == "auto-pipe-service"
    assert line["Route"] == "/items/{item_id}"
    assert (line["RequestCount"], line["ErrorCount"]) == (1, 0)
    assert line["Latency"] == line["duration_ms"]
    post = [line for line in access if line["method"] == "POST"]
    assert post[0]["status"] == 201
    assert len(post[0]["request_id"]) == 32
    # uvicorn's own loggers come out as JSON too, never as plain text.
    assert any(line.get("logger") == "uvicorn.error" for line in lines)
    plain = [ln for ln in live.output.splitlines() if ln.strip() and not ln.startswith("{")]
    assert plain == []


def test_console_logs_in_development(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "API_KEYS": API_KEY, "ENV": "development"}
    env["LOG_FORMAT"] = ""
    with LiveServer(env) as server:
        httpx.get(f"{server.url}/health")
        wait_for(lambda: "/health" in server.output, "the access line of /health")
        output = server.output
    assert "request" in output
    assert not any(line.startswith("{") for line in output.splitlines())


@pytest.mark.postgres
def test_sigterm_drains_in_flight_requests(pg_server: PostgresServer, pg_url: str) -> None:
    """Requests blocked in the database when SIGTERM arrives still complete with 200."""
    pg_server.psql("TRUNCATE items RESTART IDENTITY", PG_DATABASE)
    # A pool as large as the burst, so every request is observably waiting inside PostgreSQL.
    env = {"DATABASE_URL": pg_url, "API_KEYS": API_KEY, "DB_POOL_SIZE": "20"}
    server = LiveServer(env).start()
    locker: subprocess.Popen[bytes] | None = None
    try:
        httpx.post(f"{server.url}/items", json={"name": "x"}, headers=AUTH).raise_for_status()
        # Hold a lock that makes every read wait ~1.5 s inside PostgreSQL.
        locker = pg_server.hold_items_lock(PG_DATABASE, 1.5)
        wait_for(lambda: pg_server.items_lock_held(PG_DATABASE), "lock taken")

        async def in_flight() -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
                tasks = [asyncio.create_task(client.get("/items/1")) for _ in range(20)]
                # All 20 are inside the server, waiting on the lock in PostgreSQL.
                await async_wait_for(
                    lambda: pg_server.waiting_on_locks(PG_DATABASE) >= 20, "20 reads blocked"
                )
                server.terminate()
                responses = await asyncio.gather(*tasks, return_exceptions=True)
            return [r.status_code if isinstance(r, httpx.Response) else -1 for r in responses]

        statuses = asyncio.run(in_flight())
        assert statuses == [200] * 20
        # uvicorn re-raises the signal once it has drained, so the exit status says SIGTERM.
        assert server.wait(timeout=20) == -signal.SIGTERM
        events = [line.get("event") for line in server.json_lines()]
        assert "shutdown" in events  # the lifespan closed the pool after the drain
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health", timeout=1)
    finally:
        server.stop()
        if locker is not None:
            locker.wait(timeout=10)


def test_settings_reach_the_process(database_url: str) -> None:
    env = {
        "DATABASE_URL": database_url,
        "API_KEYS": '["first-key", "second-key"]',
        "GIT_SHA": "cafe123",
        "IMAGE_TAG": "sha-cafe123",
    }
    with LiveServer(env) as server:
        assert httpx.get(f"{server.url}/version").json()["git_sha"] == "cafe123"
        for key in ("first-key", "second-key"):
            response = httpx.post(
                f"{server.url}/items", json={"name": key}, headers={"X-API-Key": key}
            )
            assert response.status_code == 201
    assert make_settings().env == "test"
