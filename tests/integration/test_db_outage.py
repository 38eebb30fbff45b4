"""PostgreSQL goes away and comes back while the app keeps running: probes tell the truth,
writes get 503 + Retry-After (never 500), nothing written before is lost, no restart needed."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.main import create_app
from testbed.pg import PostgresServer
from tests.conftest import AUTH, make_settings, migrate, running

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


@pytest.fixture(scope="module")
def outage_url(outage_pg: PostgresServer) -> str:
    url = outage_pg.create_database("outage")
    migrate(url)
    return url


async def test_database_outage_and_recovery(outage_pg: PostgresServer, outage_url: str) -> None:
    url = outage_url
    settings = make_settings(
        database_url=url, db_connect_timeout=1, db_pool_timeout=1, ready_timeout=1
    )
    async with running(create_app(settings)) as client:
        created = await client.post("/items", json={"name": "before"}, headers=AUTH)
        assert created.status_code == 201
        assert (await client.get("/ready")).status_code == 200

        outage_pg.stop()
        try:
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert ready.headers["content-type"] == "application/problem+json"

            for method, path, body in (
                ("POST", "/items", {"name": "during"}),
                ("PATCH", "/items/1", {"name": "during"}),
                ("GET", "/items/1", None),
                ("GET", "/items", None),
            ):
                response = await client.request(method, path, json=body, headers=AUTH)
                assert response.status_code == 503, (method, path, response.text)
                assert response.headers["retry-after"] == "5"
                problem = response.json()
                assert problem["status"] == 503
                assert "unavailable" in problem["detail"]
        finally:
            outage_pg.start()

        # Same process, same engine: the pool replaces its dead connections by itself.
        deadline = time.monotonic() + 5
        while (await client.get("/ready")).status_code != 200:
            assert time.monotonic() < deadline, "not ready 5 s after the database returned"
            await asyncio.sleep(0.1)
        after = await client.post("/items", json={"name": "after"}, headers=AUTH)
        assert after.status_code == 201
        names = [i["name"] for i in (await client.get("/items")).json()["items"]]
        assert names == ["before", "after"]
