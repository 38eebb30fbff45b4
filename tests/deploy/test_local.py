"""`autopipe local`: the rendered task definition on the local Docker engine with Fargate's
limits. The mapping is checked without Docker; the real run needs the engine (CI has it)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopipe import docker_run, resolve
from autopipe.cli import app
from autopipe.config import load_settings
from autopipe.errors import ConfigError
from autopipe.smoke import get
from tests.support import docker as d
from tests.support.moto import CONFIG

SECRETS = 'API_KEYS=["local-key-0123456789"]\nexport DB_PASSWORD="not-used"\n# comment\n'


def rendered() -> dict[str, object]:
    settings = load_settings(config=CONFIG, env="staging", environ={})
    return resolve.render(settings, resolve.OfflineResolver(settings), image_uri="img",
                          image_tag="local", git_sha="local")  # fmt: skip


def test_fargate_limits_become_docker_flags(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text(SECRETS)
    secrets = docker_run.read_env_file(secrets_file)
    assert secrets == {"API_KEYS": '["local-key-0123456789"]', "DB_PASSWORD": "not-used"}
    spec = docker_run.build_spec(rendered(), container="app", image="img", name="n", port=18123,
                                 secret_values=secrets)  # fmt: skip
    line = " ".join(spec.args)
    for flag in ("--pull never", "--network host", "--cpus 0.25", "--memory 512m",
                 "--memory-swap 512m", "--read-only", "--user 10001:10001", "--init",
                 "--cap-drop ALL", "--security-opt no-new-privileges", "--stop-timeout 30",
                 "--health-interval 10s", "--health-retries 3", "--health-start-period 15s",
                 "--mount type=volume,dst=/tmp"):  # fmt: skip
        assert flag in line, flag
    assert "/health" in spec.args[spec.args.index("--health-cmd") + 1]
    assert spec.env["HOST"] == "127.0.0.1"  # host network: loopback only
    assert spec.env["PORT"] == "18123"
    assert spec.env["API_KEYS"] == '["local-key-0123456789"]'
    assert "local-key" not in spec.display(detach=True)  # secrets go through an env-file
    with pytest.raises(ConfigError, match="DB_PASSWORD"):
        docker_run.build_spec(rendered(), container="app", image="img", name="n", port=1,
                              secret_values={"API_KEYS": "x"})  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def container() -> Iterator[str]:
    name = f"autopipe-local-test-{uuid.uuid4().hex[:8]}"
    yield name
    d.remove(name)
    d.remove(f"{name}-migrate")


@pytest.mark.container
def test_local_runs_the_task_definition(service_image: str, container: str, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(SECRETS)
    port = free_port()
    common = [
        "--config", str(CONFIG), "--env", "staging", "--image", service_image,
        "--secrets-file", str(secrets), "--set-env", "DATABASE_URL=sqlite:////tmp/app.db",
    ]  # fmt: skip
    runner = CliRunner()
    migrate = runner.invoke(app, ["local", *common, "--name", f"{container}-migrate",
                                  "--command", "python -m app.migrate"])  # fmt: skip
    assert migrate.exit_code == 0, migrate.output
    result = runner.invoke(app, ["local", *common, "--name", container, "--port", str(port),
                                 "--detach", "--output", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["url"] == f"http://127.0.0.1:{port}"
    state = d.inspect("container", container)
    host = state["HostConfig"]
    assert host["NanoCpus"] == 250_000_000
    assert host["Memory"] == host["MemorySwap"] == 512 * 1024 * 1024
    assert host["ReadonlyRootfs"] is True
    assert host["Init"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["NetworkMode"] == "host"
    assert state["Config"]["User"] == "10001:10001"
    assert state["Config"]["StopTimeout"] == 30
    assert "/health" in " ".join(state["Config"]["Healthcheck"]["Test"])
    assert any(m["Destination"] == "/tmp" and m["Type"] == "volume" for m in state["Mounts"])
    status, body = get(f"http://127.0.0.1:{port}/version", timeout=5)
    assert (status, json.loads(body)["image_tag"]) == (200, "local")
    assert get(f"http://127.0.0.1:{port}/ready", timeout=5)[0] == 200
