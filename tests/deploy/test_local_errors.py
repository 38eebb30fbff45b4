"""`autopipe local` where it cannot run: bad input files and flags (exit 2, one line, before
Docker is asked anything), no docker CLI, a docker CLI with no engine behind it (exit 1, one
line); and `--dry-run`, which prints the command and runs nothing. None needs Docker."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from autopipe import resolve
from autopipe.cli import app
from autopipe.config import load_settings
from tests.conftest import unavailable
from tests.support.moto import CONFIG

SECRETS = 'API_KEYS=["local-key-0123456789"]\nDB_PASSWORD=not-used\n'
NO_ENGINE = "unix:///nonexistent/docker.sock"


def local(tmp_path: Path, *args: str, secrets: str | None = SECRETS) -> Result:
    given: list[str] = []
    if secrets is not None:
        path = tmp_path / "secrets.env"
        path.write_text(secrets)
        given = ["--secrets-file", str(path)]
    argv = ["local", "--config", str(CONFIG), "--env", "staging", "--image", "img:local",
            "--name", "autopipe-local-errors", *given, *args]  # fmt: skip
    return CliRunner().invoke(app, argv, catch_exceptions=False)


def errors(result: Result) -> list[str]:
    """The error lines on stderr (a warning may precede them, e.g. a clamped ulimit)."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_dry_run_prints_the_docker_command_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker CLI: nothing may call it
    result = local(tmp_path, "--dry-run", "--port", "18999", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True
    assert doc["url"] == "http://127.0.0.1:18999"
    command = doc["docker"]
    assert command.startswith("docker run -d --env-file '<env-file>' --pull never")
    assert command.endswith(" img:local")
    assert "local-key" not in command  # secret values only ever go to the env-file


def test_a_rendered_task_definition_file_is_run_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    empty = local(tmp_path, "--dry-run", secrets="")
    assert empty.exit_code == 2  # the secrets are checked before anything runs
    assert errors(empty) == ["error: secrets missing from the secrets file: API_KEYS, DB_PASSWORD"]
    settings = load_settings(config=CONFIG, env="staging", environ={})
    taskdef = resolve.render(settings, resolve.OfflineResolver(settings), image_uri="img:local",
                             image_tag="local", git_sha="local")  # fmt: skip
    container = taskdef["containerDefinitions"][0]
    container["secrets"] = []  # a file with no secrets needs no secrets file
    container["cpu"] = 2048
    path = tmp_path / "rendered.json"
    path.write_text(json.dumps(taskdef))
    result = local(tmp_path, "--taskdef", str(path), "--dry-run", "--output", "json", secrets=None)
    assert result.exit_code == 0, result.output
    assert "--cpus 2 " in json.loads(result.stdout)["docker"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "error: task definition template not found: {path}"),
        ("{not json", "error: {path}: invalid JSON: "),
        ("[1, 2]", "error: {path}: expected a JSON object"),
    ],
    ids=["missing", "invalid-json", "not-an-object"],
)
def test_a_bad_task_definition_file_is_bad_input(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "rendered.json"
    if content is not None:
        path.write_text(content)
    result = local(tmp_path, "--taskdef", str(path), "--detach")
    assert result.exit_code == 2
    [line] = errors(result)
    assert line.startswith(message.format(path=path))


@pytest.mark.parametrize(
    ("secrets", "args", "message"),
    [
        ("API_KEYS\n", (), "error: {tmp}/secrets.env: not NAME=value: API_KEYS"),
        (
            SECRETS,
            ("--set-env", "NO_EQUALS_SIGN"),
            "error: --set-env wants NAME=value, got 'NO_EQUALS_SIGN'",
        ),
        (SECRETS, ("--set-env", "=value"), "error: --set-env wants NAME=value, got '=value'"),
    ],
    ids=["secrets-line", "set-env-without-equals", "set-env-without-name"],
)
def test_bad_secrets_lines_and_set_env_pairs_are_bad_input(
    tmp_path: Path, secrets: str, args: tuple[str, ...], message: str
) -> None:
    result = local(tmp_path, "--detach", *args, secrets=secrets)
    assert result.exit_code == 2
    assert errors(result) == [message.format(tmp=tmp_path)]


def test_a_missing_secrets_file_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.env"
    result = local(tmp_path, "--secrets-file", str(missing), "--detach", secrets=None)
    assert result.exit_code == 2
    assert errors(result) == [f"error: secrets file not found: {missing}"]


@pytest.mark.parametrize(
    "args", [("--detach",), ("--command", "python -m app.migrate"), ("--replace", "--detach")]
)
def test_no_docker_cli_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where an env-file would go
    result = local(tmp_path, *args)
    assert result.exit_code == 1
    assert errors(result) == ["error: the docker CLI is not installed"]
    assert not list(tmp_path.glob("autopipe-env-*"))  # no env-file with secrets written


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real docker CLI, talking to a socket nothing listens on."""
    if shutil.which("docker") is None:
        unavailable("the docker CLI tests", "the docker CLI is not installed")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)


@pytest.mark.usefixtures("no_engine")
def test_no_engine_stops_a_detached_run_with_dockers_own_words(tmp_path: Path) -> None:
    result = local(tmp_path, "--detach", "--replace", "--output", "json")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()[-1:]  # one line, Docker's own words included
    assert errors(result) == [line]
    assert line.startswith("error: docker run failed: ")
    assert "Cannot connect to the Docker daemon" in line
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["exit_code"], doc["error"]["kind"]) == (False, 1, "error")


@pytest.mark.usefixtures("no_engine")
def test_no_engine_fails_a_one_off_command_with_its_exit_code(tmp_path: Path) -> None:
    result = local(tmp_path, "--command", "python -m app.migrate", "--output", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 1  # autopipe's own, as the process exited
    code = doc["container_exit_code"]  # docker's: the engine did not answer
    assert code not in (0, 1)
    assert errors(result) == [f"error: the command exited {code}"]
