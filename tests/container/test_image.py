"""What the image is: non-root, health-checked, labelled, small."""

from __future__ import annotations

import pytest

from testbed import docker as d
from tests.container.conftest import TEST_SHA

pytestmark = pytest.mark.container


def test_image_metadata(app_image: str) -> None:
    config = d.inspect("image", app_image)["Config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["python", "-m", "app"]
    assert config["StopSignal"] == "SIGTERM"
    health = config["Healthcheck"]["Test"]
    assert health[0] == "CMD"
    assert "/health" in health[-1]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == TEST_SHA
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PORT"] == "8080"
    assert env["ENV"] == "production"
    assert env["GIT_SHA"] == TEST_SHA


def test_image_adds_little_to_the_base(app_image: str, base_image: str) -> None:
    added = d.inspect("image", app_image)["Size"] - d.inspect("image", base_image)["Size"]
    assert added <= 60 * 1024 * 1024, f"the image adds {added / 2**20:.1f} MiB to the base"


def test_image_carries_runtime_dependencies_only(app_image: str) -> None:
    script = (
        "import importlib.util as u; "
        "print(sorted(m for m in ('pytest', 'mypy', 'ruff', 'httpx', 'watchfiles', 'fastapi', "
        "'asyncpg', 'aiosqlite', 'uvloop') if u.find_spec(m)))"
    )
    result = d.docker(
        "run", "--rm", "--pull", "never", "--network", "none", app_image, "python", "-c", script
    )
    assert result.stdout.strip() == "['aiosqlite', 'asyncpg', 'fastapi', 'uvloop']"


def test_production_image_refuses_to_start_without_keys(app_image: str) -> None:
    result = d.docker(
        "run", "--rm", "--pull", "never", "--network", "none", app_image, check=False, timeout=60
    )
    assert result.returncode == 2
    assert "API_KEYS must be set in production" in result.stderr
