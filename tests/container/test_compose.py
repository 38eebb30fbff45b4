"""compose.yml: validated by the compose tool, then brought up for real with the CI override
(host networking, locally built images)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from autopipe.names import Names, read_project
from testbed import docker as d
from testbed.pg import free_port
from tests.conftest import unavailable

pytestmark = pytest.mark.container
# The names the Makefile passes (`make names`): compose.yml spells none itself.
NAMES = Names(read_project(d.ROOT / "autopipe.toml"))
POSTGRES_IMAGE = NAMES.local_postgres_image
IMAGES = {"IMAGE": NAMES.local_image, "LOCAL_POSTGRES_IMAGE": POSTGRES_IMAGE}


def compose(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    tool = shutil.which("docker-compose")
    if tool is None:
        unavailable("the compose tests", "docker-compose is not installed")
    result = subprocess.run(
        [tool, *args], cwd=d.ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **IMAGES, **(env or {})}, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"docker-compose {' '.join(args)}:\n{result.stdout}{result.stderr}")
    return result.stdout


def rendered(*files: str) -> dict[str, Any]:
    args = [arg for f in files for arg in ("-f", f)]
    config: dict[str, Any] = yaml.safe_load(compose(*args, "config"))
    return config


def test_compose_file_is_valid_and_hardened(engine: None) -> None:
    services = rendered("compose.yml")["services"]
    assert set(services) == {"db", "migrate", "web"}
    web = services["web"]
    # Compose 1.x renders the short syntax: host_ip:published:target.
    assert web["ports"] == ["127.0.0.1:8000:8080/tcp"]
    assert web["read_only"] is True
    assert web["cap_drop"] == ["ALL"]
    assert web["user"] == "10001:10001"
    assert "/tmp" in web["tmpfs"]
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["healthcheck"]["test"][0] == "CMD"
    assert services["migrate"]["command"] == ["python", "-m", "app.migrate"]
    assert services["db"]["healthcheck"]["test"][1].startswith("pg_isready")
    assert any(v.startswith("pgdata:") for v in services["db"]["volumes"])


def test_development_override_mounts_source_with_reload(engine: None) -> None:
    web = rendered("compose.yml", "compose.override.yml")["services"]["web"]
    assert web["environment"]["RELOAD"] == "true"
    assert any(v.endswith(":/app/app:ro") for v in web["volumes"])


@pytest.fixture
def stack(app_image: str, base_image: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    if not d.image_exists(POSTGRES_IMAGE):
        d.build(POSTGRES_IMAGE, d.ROOT / "docker" / "postgres-local", BASE_IMAGE=base_image)
    env = {
        "COMPOSE_PROJECT_NAME": f"aptest{uuid.uuid4().hex[:6]}",
        "DB_PORT": str(free_port()),
        "WEB_PORT": str(free_port()),
        "API_KEYS": "compose-key",
    }
    # Compose 1.x cannot drop the base file's published port, which host networking refuses:
    # render the two files, drop `ports`, and bring that up.
    config = yaml.safe_load(compose("-f", "compose.yml", "-f", "compose.ci.yml", "config", env=env))
    for service in config["services"].values():
        service.pop("ports", None)
        service.pop("build", None)
        if service["image"] == NAMES.local_image:
            service["image"] = app_image
    merged = tmp_path / "compose.ci.rendered.yml"
    merged.write_text(yaml.safe_dump(config))
    try:
        compose("-f", str(merged), "up", "-d", "--no-build", env=env)
        yield env
    finally:
        compose("-f", str(merged), "down", "-v", "--timeout", "30", env=env)


def test_stack_comes_up_migrated_and_serving(stack: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{stack['WEB_PORT']}"
    project = stack["COMPOSE_PROJECT_NAME"]
    deadline = time.monotonic() + 120
    while True:
        status = d.inspect("container", f"{project}_web_1")["State"].get("Health", {})
        if status.get("Status") == "healthy":
            break
        assert time.monotonic() < deadline, "web never became healthy"
        time.sleep(0.5)
    migrate = d.inspect("container", f"{project}_migrate_1")["State"]
    assert migrate["Status"] == "exited"
    assert migrate["ExitCode"] == 0
    headers = {"Authorization": "Bearer compose-key"}
    created = httpx.post(f"{url}/items", json={"name": "from compose"}, headers=headers)
    assert created.status_code == 201
    assert httpx.get(f"{url}{created.headers['location']}").json()["name"] == "from compose"
    assert httpx.get(f"{url}/ready").status_code == 200
