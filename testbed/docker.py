"""A thin wrapper over the docker CLI for the container tests: local images only, never a pull,
host networking bound to 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCAL_BASE = "autopipe/python:3.11-slim-local"
FARGATE_LIMITS = [
    "--cpus", "0.25", "--memory", "512m", "--memory-swap", "512m",
    "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
]  # fmt: skip


class DockerUnavailable(RuntimeError):
    """No Docker engine answering on this machine."""


def docker(
    *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def ensure_engine() -> None:
    if shutil.which("docker") is None:
        raise DockerUnavailable("the docker CLI is not installed (make docker-engine)")
    result = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    if result.returncode != 0:
        raise DockerUnavailable(f"no Docker engine: {result.stderr.strip()} (make docker-engine)")


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, check=False).returncode == 0


def inspect(kind: str, name: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = json.loads(docker(kind, "inspect", name).stdout)
    return data[0]


def build(tag: str, context: Path, **build_args: str) -> None:
    args = ["build", "--network", "host", "--pull=false", "-q", "-t", tag]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder: no BuildKit here
    result = subprocess.run(
        ["docker", *args, str(context)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker build {tag} failed:\n{result.stdout}\n{result.stderr}")


def run_detached(image: str, *, name: str, env: dict[str, str], extra: list[str]) -> str:
    args = ["run", "-d", "--pull", "never", "--network", "host", "--name", name, *extra]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return docker(*args, image).stdout.strip()


def wait_healthy(name: str, timeout: float = 60) -> float:
    """Seconds until Docker reports the container `healthy`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = inspect("container", name)["State"]
        if not state["Running"]:
            logs = docker("logs", name, check=False)
            raise RuntimeError(f"{name} exited {state['ExitCode']}:\n{logs.stdout}{logs.stderr}")
        if state.get("Health", {}).get("Status") == "healthy":
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"{name} not healthy after {timeout} s")


def remove(name: str) -> None:
    docker("rm", "-f", "-v", name, check=False)
