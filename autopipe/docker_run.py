"""A task definition on the local Docker engine with the limits Fargate would apply: cpu →
`--cpus`, memory, read-only rootfs, user, capabilities, ulimits, environment, secrets (from a
local file), health check, stop timeout, init process, ephemeral volumes. Host network, bound to
127.0.0.1; never pulls."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopipe import smoke
from autopipe.errors import AutopipeError, ConfigError
from autopipe.taskdef import container_of, env_of


@dataclass(frozen=True)
class LocalSpec:
    name: str
    image: str
    port: int
    args: list[str]  # `docker run` arguments up to (not including) the image
    command: list[str]
    env: dict[str, str] = field(repr=False)  # environment + secret values, via an env-file
    notes: list[str] = field(default_factory=list)  # where local differs from Fargate

    def argv(self, env_file: str, *, detach: bool) -> list[str]:
        head = ["docker", "run", *(["-d"] if detach else ["--rm"]), "--env-file", env_file]
        return [*head, *self.args, self.image, *self.command]

    def display(self, *, detach: bool) -> str:
        return shlex.join(self.argv("<env-file>", detach=detach))


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (comments, blank lines and `export ` allowed; quotes stripped)."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError as exc:
        raise ConfigError(f"secrets file not found: {path}") from exc
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise ConfigError(f"{path}: not NAME=value: {line[:40]}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def build_spec(
    taskdef: Mapping[str, Any],
    *,
    container: str,
    image: str,
    name: str,
    port: int,
    secret_values: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    command: list[str] | None = None,
) -> LocalSpec:
    c = container_of(taskdef, container)
    wanted = [s["name"] for s in c.get("secrets", [])]
    missing = [n for n in wanted if n not in secret_values]
    if missing:
        raise ConfigError(f"secrets missing from the secrets file: {', '.join(missing)}")
    args = ["--pull", "never", "--network", "host", "--name", name, "--label", "autopipe.local=1"]
    cpu_units = c.get("cpu") or int(taskdef.get("cpu", 0) or 0)
    if cpu_units:
        args += ["--cpus", f"{int(cpu_units) / 1024:g}"]
    memory = c.get("memory") or int(taskdef.get("memory", 0) or 0)
    if memory:
        args += ["--memory", f"{memory}m", "--memory-swap", f"{memory}m"]
    if c.get("memoryReservation"):
        args += ["--memory-reservation", f"{c['memoryReservation']}m"]
    if c.get("readonlyRootFilesystem"):
        args.append("--read-only")
    if c.get("user"):
        args += ["--user", str(c["user"])]
    if c.get("workingDirectory"):
        args += ["--workdir", str(c["workingDirectory"])]
    notes: list[str] = []
    args += _linux_args(c, notes)
    if c.get("stopTimeout"):
        args += ["--stop-timeout", str(c["stopTimeout"])]
    args += _health_args(c.get("healthCheck"))
    args += _mount_args(taskdef, c)
    if c.get("entryPoint"):
        args += ["--entrypoint", shlex.join(c["entryPoint"])]
    # Host network: the process binds loopback only, on the port we were given.
    env = {**env_of(c), **(overrides or {}), "HOST": "127.0.0.1", "PORT": str(port)}
    env.update({n: secret_values[n] for n in wanted})
    command = command or list(c.get("command", []))
    return LocalSpec(name, image, port, args, command, env, notes)


def _linux_args(c: Mapping[str, Any], notes: list[str]) -> list[str]:
    linux = c.get("linuxParameters", {})
    args = ["--init"] if linux.get("initProcessEnabled") else []
    for cap in linux.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", cap]
    for cap in linux.get("capabilities", {}).get("add", []):
        args += ["--cap-add", cap]
    args += ["--security-opt", "no-new-privileges"]
    for u in c.get("ulimits", []):
        soft, hard = int(u["softLimit"]), int(u["hardLimit"])
        if u["name"] == "nofile":
            # Docker cannot raise a limit above its own; Fargate can. Clamp, and say so.
            ceiling = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            if ceiling != resource.RLIM_INFINITY and hard > ceiling:
                notes.append(f"ulimit nofile {soft}:{hard} clamped to this machine's {ceiling}")
                soft, hard = min(soft, ceiling), ceiling
        args += ["--ulimit", f"{u['name']}={soft}:{hard}"]
    return args


def _health_args(check: Mapping[str, Any] | None) -> list[str]:
    if not check:
        return []
    cmd = list(check["command"])
    shell = cmd[1] if cmd[0] == "CMD-SHELL" else shlex.join(cmd[1:])
    return [
        "--health-cmd", shell,
        "--health-interval", f"{check.get('interval', 30)}s",
        "--health-timeout", f"{check.get('timeout', 5)}s",
        "--health-retries", str(check.get("retries", 3)),
        "--health-start-period", f"{check.get('startPeriod', 0)}s",
    ]  # fmt: skip


def _mount_args(taskdef: Mapping[str, Any], c: Mapping[str, Any]) -> list[str]:
    volumes = {v["name"]: v for v in taskdef.get("volumes", [])}
    args: list[str] = []
    for m in c.get("mountPoints", []):
        volume = volumes.get(m["sourceVolume"], {})
        source = volume.get("host", {}).get("sourcePath")
        # No host path = Fargate ephemeral storage: an anonymous volume, removed with the container.
        spec = f"type=bind,src={source}" if source else "type=volume"
        spec += f",dst={m['containerPath']}" + (",readonly" if m.get("readOnly") else "")
        args += ["--mount", spec]
    return args


def docker_binary() -> str:
    binary = shutil.which("docker")
    if binary is None:
        raise AutopipeError("the docker CLI is not installed")
    return binary


def docker(
    *args: str, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    binary = docker_binary()
    return subprocess.run(  # noqa: S603 - fixed binary, list arguments
        [binary, *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def docker_available() -> bool:
    try:
        return docker("info", "--format", "{{.ServerVersion}}", timeout=15).returncode == 0
    except (AutopipeError, OSError, subprocess.TimeoutExpired):
        return False


def image_exists(image: str) -> bool:
    return docker("image", "inspect", image).returncode == 0


def remove(name: str) -> None:
    docker("rm", "-f", "-v", name, timeout=60)


def stop(name: str, stop_timeout: int = 30) -> None:
    docker("stop", "-t", str(stop_timeout), name, timeout=stop_timeout + 30)
    remove(name)


def run(
    spec: LocalSpec, *, detach: bool, timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    binary = docker_binary()  # before the env-file: no CLI, no secret values on disk
    fd, env_file = tempfile.mkstemp(prefix="autopipe-env-")
    try:
        with os.fdopen(fd, "w") as fh:  # 0600: secret values never reach the command line
            fh.writelines(f"{k}={v}\n" for k, v in spec.env.items())
        argv = [binary, *spec.argv(env_file, detach=detach)[1:]]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    finally:
        Path(env_file).unlink(missing_ok=True)


def wait_healthy(name: str, port: int, *, timeout: float) -> float:
    """Seconds until GET /health answers 200 (what a load balancer's health check waits for)."""
    started = time.monotonic()
    url = f"http://127.0.0.1:{port}/health"
    while time.monotonic() - started < timeout:
        try:
            status, _ = smoke.get(url, timeout=1.0)
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        state = docker("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name)
        if state.returncode != 0 or state.stdout.startswith("false"):
            logs = docker("logs", "--tail", "30", name)
            raise AutopipeError(
                f"container {name} exited ({state.stdout.strip()}):\n{logs.stdout}{logs.stderr}"
            )
        time.sleep(0.1)
    raise AutopipeError(f"container {name}: /health did not answer within {timeout:g}s")
