"""`autopipe local`: run the rendered task definition on the local Docker engine with the same
limits, before AWS ever sees it. Renders offline (no AWS call) unless given a rendered file."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopipe import docker_run, resolve, taskdef
from autopipe.config import Settings
from autopipe.errors import AutopipeError, ConfigError
from autopipe.output import Reporter
from autopipe.runner import Common


@dataclass(frozen=True)
class LocalOptions:
    common: Common = field(default_factory=Common)
    image: str | None = None
    taskdef_file: str | None = None
    secrets_file: str | None = None
    port: int = 8080
    name: str = "autopipe-local"
    detach: bool = False
    replace: bool = False
    command: str | None = None
    set_env: tuple[str, ...] = ()
    wait_timeout: float = 60.0
    dry_run: bool = False


def load_taskdef(opts: LocalOptions, settings: Settings, image: str) -> dict[str, Any]:
    if opts.taskdef_file:
        loaded = taskdef.load_template(Path(opts.taskdef_file))
        taskdef.validate(loaded)
        return loaded
    return resolve.render(
        settings, resolve.OfflineResolver(settings),
        image_uri=image, image_tag="local", git_sha="local",
    )  # fmt: skip


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set-env wants NAME=value, got {pair!r}")
        out[key] = value
    return out


def run(opts: LocalOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    image = opts.image or settings.local_image
    definition = load_taskdef(opts, settings, image)
    secrets = docker_run.read_env_file(Path(opts.secrets_file)) if opts.secrets_file else {}
    spec = docker_run.build_spec(
        definition, container=settings.container, image=image, name=opts.name, port=opts.port,
        secret_values=secrets, overrides=parse_pairs(opts.set_env),
        command=shlex.split(opts.command) if opts.command else None,
    )  # fmt: skip
    for note in spec.notes:
        reporter.warn(note)
    one_off = opts.command is not None
    detach = not one_off
    result: dict[str, Any] = {
        "name": opts.name,
        "image": image,
        "url": f"http://127.0.0.1:{opts.port}",
        "docker": spec.display(detach=detach),
        "dry_run": opts.dry_run,
    }
    if opts.dry_run:
        reporter.info(spec.display(detach=detach))
        return result
    if opts.replace:
        docker_run.remove(opts.name)
    if one_off:
        reporter.step(f"running {opts.command!r} in {image}")
        done = docker_run.run(spec, detach=False)
        reporter.info(done.stdout + done.stderr)
        # Not `exit_code`: that key is autopipe's own exit code in the JSON document.
        result["container_exit_code"] = done.returncode
        if done.returncode != 0:
            raise AutopipeError(f"the command exited {done.returncode}", details=result)
        return result
    started = start(spec, reporter, wait_timeout=opts.wait_timeout)
    result["healthy_after_seconds"] = round(started, 2)
    if opts.detach:
        reporter.info(f"stop it with: docker rm -f -v {opts.name}")
        return result
    _follow(
        spec,
        reporter,
        stop_timeout=int(
            taskdef.container_of(definition, settings.container).get("stopTimeout", 30)
        ),
    )
    return result


def start(spec: docker_run.LocalSpec, reporter: Reporter, *, wait_timeout: float) -> float:
    done = docker_run.run(spec, detach=True, timeout=120)
    if done.returncode != 0:
        said = "; ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        raise AutopipeError(f"docker run failed: {said}")  # one line
    reporter.step(f"container {spec.name} started from {spec.image}")
    try:
        seconds = docker_run.wait_healthy(spec.name, spec.port, timeout=wait_timeout)
    except AutopipeError:
        docker_run.remove(spec.name)
        raise
    reporter.step(f"container {spec.name} healthy on http://127.0.0.1:{spec.port} "
                  f"after {seconds:.1f}s")  # fmt: skip
    return seconds


def _follow(spec: docker_run.LocalSpec, reporter: Reporter, *, stop_timeout: int) -> None:
    """Stream the logs until Ctrl-C, then stop the container the way ECS would."""
    reporter.info("logs follow; Ctrl-C stops the container", style="dim")
    try:
        subprocess.run(["docker", "logs", "-f", spec.name], check=False)  # noqa: S603, S607
    finally:
        reporter.step(f"stopping {spec.name} (SIGTERM, {stop_timeout}s grace)")
        docker_run.stop(spec.name, stop_timeout)
