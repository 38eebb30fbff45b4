"""The container as Fargate runs it: 0.25 vCPU, 512 MiB, read-only rootfs, no capabilities."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from testbed import docker as d
from testbed.pg import PostgresServer, free_port
from tests.conftest import API_KEY, AUTH
from tests.container.conftest import TEST_SHA

pytestmark = [pytest.mark.container, pytest.mark.postgres]


def start_fargate_sized(image: str, name: str, database_url: str) -> str:
    port = free_port()
    env = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "API_KEYS": API_KEY,
    }
    # Same health command as the image; checked every second so the test does not wait 10 s.
    d.run_detached(image, name=name, env=env, extra=[*d.FARGATE_LIMITS, "--health-interval", "1s"])
    d.wait_healthy(name)
    return f"http://127.0.0.1:{port}"


def test_crud_at_fargate_size(app_image: str, container_name: str, container_db: str) -> None:
    url = start_fargate_sized(app_image, container_name, container_db)
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/ready").status_code == 200
        assert client.get("/version").json()["git_sha"] == TEST_SHA
        created = client.post("/items", json={"name": "in a box"}, headers=AUTH)
        assert created.status_code == 201
        location = created.headers["location"]
        assert client.patch(location, json={"description": "d"}, headers=AUTH).status_code == 200
        assert client.get(location).json()["version"] == 2
        assert client.delete(location, headers=AUTH).status_code == 204
        assert client.get(location).status_code == 404

    uid = d.docker("exec", container_name, "python", "-c", "import os; print(os.getuid())")
    assert int(uid.stdout) != 0
    caps = d.docker("exec", container_name, "grep", "CapEff", "/proc/1/status").stdout
    assert caps.split()[-1] == "0000000000000000"
    write_root = d.docker("exec", container_name, "touch", "/app/new-file", check=False)
    assert write_root.returncode != 0
    assert "Read-only file system" in write_root.stderr
    write_tmp = d.docker("exec", container_name, "touch", "/tmp/ok", check=False)
    assert write_tmp.returncode == 0
    limits = d.inspect("container", container_name)["HostConfig"]
    assert limits["NanoCpus"] == 250_000_000
    assert limits["Memory"] == 512 * 1024 * 1024
    assert limits["ReadonlyRootfs"] is True


def test_docker_stop_drains_in_flight_requests(
    app_image: str, container_name: str, container_db: str, pg_server: PostgresServer
) -> None:
    url = start_fargate_sized(app_image, container_name, container_db)
    database = container_db.rsplit("/", 1)[1]
    httpx.post(f"{url}/items", json={"name": "x"}, headers=AUTH).raise_for_status()
    # Every read waits ~2 s on this lock, so requests are in flight when SIGTERM arrives.
    locker = pg_server.hold_items_lock(database, 2)
    try:
        time.sleep(0.3)

        async def load() -> tuple[list[int], int]:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                blocked = [asyncio.create_task(client.get("/items/1")) for _ in range(20)]
                await asyncio.sleep(0.5)
                stop = asyncio.create_task(
                    asyncio.to_thread(d.docker, "stop", "-t", "30", container_name)
                )
                results = await asyncio.gather(*blocked, return_exceptions=True)
                await stop
            statuses = [r.status_code if isinstance(r, httpx.Response) else -1 for r in results]
            return statuses, len(results)

        statuses, count = asyncio.run(load())
    finally:
        locker.wait(timeout=30)
    assert count == 20
    assert statuses == [200] * 20, statuses
    state = d.inspect("container", container_name)["State"]
    assert state["ExitCode"] == 0
    assert state["OOMKilled"] is False
    logs = d.docker("logs", container_name).stdout
    assert '"event":"shutdown"' in logs


def test_migration_runs_as_a_one_off_container(
    app_image: str, pg_server: PostgresServer, container_name: str
) -> None:
    database = f"oneoff_{container_name[-8:]}"
    url = pg_server.create_database(database).replace("+asyncpg", "")
    result = d.docker(
        "run", "--rm", "--pull", "never", "--network", "host", "--name", container_name,
        *d.FARGATE_LIMITS, "-e", f"DATABASE_URL={url}", "-e", f"API_KEYS={API_KEY}",
        app_image, "python", "-m", "app.migrate",
        check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"event":"migrated"' in result.stdout
    assert pg_server.psql("SELECT version_num FROM alembic_version", database) == "0002"
