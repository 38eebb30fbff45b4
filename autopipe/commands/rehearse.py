"""`autopipe rehearse`: the whole deploy stage offline. Start the AWS emulator, create the
seed's resources in it, deploy v1, deploy v2, deploy a broken v3 (its smoke test fails) and
watch the automatic rollback to v2, printing the timeline.

Where Docker and the service image are available, every deployment is the real container
(started like `autopipe local`) and v3's failure is real: it points its SQLite database at a
directory that exists only where the migration task ran, so `/ready` answers 503."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from autopipe import docker_run, ecs
from autopipe.commands import deploy
from autopipe.commands._shared import ImageOptions
from autopipe.config import Settings
from autopipe.errors import AutopipeError, ConfigError
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws

# (tag, commit, extra environment, expected result)
Step = tuple[str, str, dict[str, str], str]
SCENARIO: tuple[Step, ...] = (
    ("v1", "1111111111111111111111111111111111111111", {}, "success"),
    ("v2", "2222222222222222222222222222222222222222", {}, "success"),
    ("v3", "3333333333333333333333333333333333333333",
     {"DATABASE_URL": "sqlite:////tmp/v3-data/app.db"}, "rolled_back"),
)  # fmt: skip
INTRO = (
    "rehearsal: the deploy stage offline, against an emulated AWS on 127.0.0.1",
    "  1. deploy v1            expected: success (the first proven release)",
    "  2. deploy v2            expected: success (rolls forward)",
    "  3. deploy v3 (broken)   expected: its smoke test FAILS, on purpose, and autopipe puts",
    "                          v2 back: this failure is the planned part of the scenario",
    "",
)
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "rehearsal",
    "AWS_SECRET_ACCESS_KEY": "rehearsal",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata endpoint
}


@dataclass(frozen=True)
class RehearseOptions:
    common: Common = field(default_factory=lambda: Common(env="rehearsal"))
    docker: str = "auto"  # auto | always | never
    image: str | None = None
    step: float = 0.3  # seconds the emulated ECS takes per rollout (without Docker)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fake_credentials() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (*FAKE_AWS, "AWS_PROFILE", "AWS_SESSION_TOKEN")}
    os.environ.update(FAKE_AWS)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def use_docker(opts: RehearseOptions, image: str, reporter: Reporter) -> bool:
    if opts.docker == "never":
        return False
    ready = docker_run.docker_available() and docker_run.image_exists(image)
    if opts.docker == "always" and not ready:
        raise ConfigError(f"--docker always: no Docker engine or no image {image} (make image)")
    if not ready:
        reporter.step(f"no Docker engine or image {image}: the smoke target is a stand-in")
    return ready


def run(opts: RehearseOptions, reporter: Reporter) -> dict[str, Any]:
    try:
        # The model of AWS lives outside the product (ecs_model/, which needs moto from the
        # `test` group): imported here only, so the deployer itself never needs it.
        from ecs_model import emulator as emu_mod  # noqa: PLC0415
        from ecs_model import seed, targets  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"rehearse needs the ecs_model package and moto[server] (a source checkout, "
            f"uv sync --group test): {exc}"
        ) from exc
    base = opts.common.settings()
    image = opts.image or base.local_image
    for line in INTRO:
        reporter.info(line, style="bold" if line is INTRO[0] else None)
    docker = use_docker(opts, image, reporter)
    with fake_credentials(), contextlib.ExitStack() as stack:
        emulator = emu_mod.Emulator(step=opts.step)
        endpoint = emulator.start()
        stack.callback(emulator.stop)
        reporter.step(f"AWS emulator (moto, in-process) on {endpoint}")
        settings = base.with_overrides(endpoint_url=endpoint)
        aws = make_aws(settings)
        slack = targets.SlackReceiver(reporter)
        stack.callback(slack.close)
        os.environ[settings.slack_webhook_env] = slack.url
        stack.callback(os.environ.pop, settings.slack_webhook_env, None)
        if docker:
            port = free_port()
            runner = targets.DockerRunner(aws, settings, image=image, port=port, reporter=reporter)
            emulator.runner = runner
            stack.callback(runner.close)
            settings = settings.with_overrides(url=f"http://127.0.0.1:{port}")
        else:
            stand_in = targets.StandIn(aws, emulator, settings, broken={"v3"})
            stack.callback(stand_in.close)
            settings = settings.with_overrides(url=stand_in.url)
        seeded = seed.seed(aws, emulator, settings, [seed.ImageSpec(t[0]) for t in SCENARIO])
        reporter.step(
            f"seeded: cluster {settings.cluster}, service {settings.service} on "
            f"{ecs.short(seeded.bootstrap)} (0 tasks), images {', '.join(seeded.digests)}"
        )
        outcomes = [_deploy(opts, settings, reporter, step) for step in SCENARIO]
        final = str(ecs.describe_service(aws, settings)["taskDefinition"])
    good = [o["revision"] for o in outcomes if o["result"] == "success"]
    as_expected = all(o["as_expected"] for o in outcomes) and ecs.short(final) in good[-1:]
    _summary(reporter, outcomes, ecs.short(final), docker)
    result = {
        "docker": docker,
        "deploys": outcomes,
        "final_revision": ecs.short(final),
        "as_expected": as_expected,
        "seconds": round(reporter.elapsed(), 2),
        "timeline": reporter.timeline,
    }
    if not as_expected:
        raise AutopipeError("the rehearsal did not go as expected", details=result)
    return result


def _deploy(
    opts: RehearseOptions, settings: Settings, reporter: Reporter, step: Step
) -> dict[str, Any]:
    tag, sha, extra, expected = step
    planned = (
        " (broken on purpose: a failed smoke test is expected)" if expected != "success" else ""
    )
    reporter.step(
        f"── deploy {tag} ──{planned}" + (f" (with {extra})" if extra else ""), style="bold"
    )
    options = deploy.DeployOptions(
        opts.common, ImageOptions(tag=tag, git_sha=sha), reason=f"rehearsal {tag}",
        extra_environment=extra,
    )  # fmt: skip
    started = reporter.elapsed()
    try:
        outcome = deploy.run(options, reporter, settings=settings)
    except AutopipeError as exc:
        outcome = {**exc.details, "exit_code": exc.exit_code}
    return {
        "tag": tag,
        "result": outcome.get("result"),
        "exit_code": outcome.get("exit_code", 0),
        "revision": outcome.get("revision"),
        "rollback": outcome.get("rollback"),
        "seconds": round(reporter.elapsed() - started, 2),
        "as_expected": outcome.get("result") == expected,
    }


def _summary(reporter: Reporter, outcomes: list[dict[str, Any]], final: str, docker: bool) -> None:
    reporter.info("")
    target = "real containers" if docker else "stand-in"
    reporter.info(f"rehearsal summary ({target})", style="bold")
    for o in outcomes:
        back = f" → rolled back to {o['rollback']['to']}" if o.get("rollback") else ""
        mark = "ok " if o["as_expected"] else "!! "
        planned = " (planned)" if o["as_expected"] and o["result"] != "success" else ""
        reporter.info(
            f"  {mark}{o['tag']}: {o['result']}{planned} (exit {o['exit_code']}) "
            f"{o['revision']}{back}  {o['seconds']:.1f}s"
        )
    reporter.info(f"  service ends on {final}; total {reporter.elapsed():.1f}s")
