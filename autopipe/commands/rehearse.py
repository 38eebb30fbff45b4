"""`autopipe rehearse`: the whole deploy stage offline. Start the AWS emulator, create the
seed's resources in it, deploy v1, deploy v2, deploy a broken v3 (its smoke test fails) and
watch the automatic rollback to v2, printing the timeline — with the environment's deployment
strategy, or the one `--strategy` names (rolling, blue_green, canary, linear).

Where Docker, the service image and HAProxy are available, every task is a real container
(started like `autopipe local`) behind a load balancer on loopback (ecs_model/alb.py: a
production and a test listener rule over two target groups, their weights set as the emulated
deployment moves traffic), and v3's failure is real: it points its SQLite database at a
directory that exists only where the migration task ran, so `/ready` and `/items` answer 503
while `/health`, the target group's check, passes. From v2 on, users send requests through the
production route, and the rehearsal reports what the broken release answered them and how long
it took to put all of them back on v2 (ecs_model/broken_release.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autopipe import docker_run, ecs
from autopipe.commands import deploy
from autopipe.commands import rehearse_load as load
from autopipe.commands._shared import ImageOptions
from autopipe.config import STRATEGIES, Settings
from autopipe.errors import AutopipeError, ConfigError
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws

if TYPE_CHECKING:
    pass

# (tag, commit, extra environment, expected result)
Step = tuple[str, str, dict[str, str], str]
# How v3 is broken. ready: its database is a directory that exists only where the migration
# ran, so `/ready` answers 503 and every smoke test sees it. users: its database is an empty
# file, so `/ready` (a connection) and `/version` pass while every `/items` answers 503 — only
# users, and the 5xx alarm their answers feed, see it.
FAILURES = {
    "ready": {"DATABASE_URL": "sqlite:////tmp/v3-data/app.db"},
    "users": {"DATABASE_URL": "sqlite:////tmp/v3-empty.db"},
}


def scenario(failure: str = "ready") -> tuple[Step, ...]:
    if failure not in FAILURES:
        raise ConfigError(f"--failure must be one of {', '.join(FAILURES)} (got {failure!r})")
    return (
        ("v1", "1" * 40, {}, "success"),
        ("v2", "2" * 40, {}, "success"),
        ("v3", "3" * 40, FAILURES[failure], "rolled_back"),
    )


SCENARIO = scenario()
INTRO = (
    "rehearsal: the deploy stage offline, against an emulated AWS on 127.0.0.1 ({strategy})",
    "  1. deploy v1            expected: success (the first proven release)",
    "  2. deploy v2            expected: success (rolls forward)",
    "  3. deploy v3 (broken)   expected: {fails}, on purpose, and {who} puts",
    "                          v2 back: this failure is the planned part of the scenario",
    "",
)
# The rehearsal's clock for the strategies: a configured minute lasts MINUTE seconds.
MINUTE = 2.0
TIMINGS: dict[str, Any] = {
    "bake_minutes": 1, "canary_percent": 20.0, "canary_bake_minutes": 1,
    "linear_step_percent": 50.0, "linear_step_minutes": 1, "test_gate_minutes": 10,
}  # fmt: skip
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
    strategy: str | None = None  # None: the environment's
    failure: str = "ready"  # how v3 is broken (FAILURES)


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
    """Real containers need the engine, the image and HAProxy (the load balancer)."""
    if opts.docker == "never":
        return False
    from testbed.haproxy import HAProxyUnavailable, find_binary  # noqa: PLC0415

    missing = ""
    if not (docker_run.docker_available() and docker_run.image_exists(image)):
        missing = f"no Docker engine or no image {image} (make image)"
    else:
        try:
            find_binary()
        except HAProxyUnavailable as exc:
            missing = str(exc)
    if missing and opts.docker == "always":
        raise ConfigError(f"--docker always: {missing}")
    if missing:
        reporter.step(f"{missing}: the service is a stand-in, its figures the model's")
    return not missing


def strategy_settings(opts: RehearseOptions, base: Settings) -> Settings:
    strategy = opts.strategy or base.strategy
    if strategy not in STRATEGIES:
        raise ConfigError(f"--strategy must be one of {', '.join(STRATEGIES)} (got {strategy!r})")
    if strategy == "rolling":
        return base.with_overrides(strategy=strategy)
    return base.with_overrides(strategy=strategy, **TIMINGS)


def _model() -> tuple[Any, Any, Any, Any]:
    """The model of AWS lives outside the product (ecs_model/ and testbed/, which need moto
    from the `test` group): imported here only, so the deployer itself never needs it."""
    try:
        from ecs_model import emulator, seed, targets, users  # noqa: PLC0415
        from testbed import haproxy  # noqa: F401, PLC0415 - what use_docker needs
    except ImportError as exc:
        raise ConfigError(
            f"rehearse needs the ecs_model package and moto[server] (a source checkout, "
            f"uv sync --group test): {exc}"
        ) from exc
    return emulator, seed, targets, users


def run(opts: RehearseOptions, reporter: Reporter) -> dict[str, Any]:
    emu_mod, seed, targets, users_mod = _model()
    base = strategy_settings(opts, opts.common.settings())
    steps = scenario(opts.failure)
    image = opts.image or base.local_image
    smoke = "smoke test" if base.strategy == "rolling" else "pre-traffic smoke test"
    fails, who = (
        ("its users' requests FAIL", "the 5xx alarm")
        if opts.failure == "users"
        else (f"its {smoke} FAILS", "autopipe")
    )
    for n, line in enumerate(INTRO):
        text = line.format(strategy=base.strategy, fails=fails, who=who)
        reporter.info(text, style="bold" if n == 0 else None)
    docker = use_docker(opts, image, reporter)
    with fake_credentials(), contextlib.ExitStack() as stack:
        # A release only users see broken is caught by the 5xx alarm ECS watches, also for a
        # while after a rolling update is steady (the model's bake_time; error_alarm.py).
        bake = 2 * MINUTE if opts.failure == "users" else 0.0
        emulator = emu_mod.Emulator(step=opts.step, minute=MINUTE, bake_time=bake)
        endpoint = emulator.start()
        stack.callback(emulator.stop)
        reporter.step(f"AWS emulator (moto, in-process) on {endpoint}")
        if base.strategy != "rolling":
            reporter.step(f"{base.strategy}: one configured minute lasts {MINUTE:g}s here")
        settings = base.with_overrides(endpoint_url=endpoint)
        aws = make_aws(settings)
        slack = targets.SlackReceiver(reporter)
        stack.callback(slack.close)
        os.environ[settings.slack_webhook_env] = slack.url
        stack.callback(os.environ.pop, settings.slack_webhook_env, None)
        if docker:
            url, release_of, errors = load.real_service(
                stack, aws, settings, emulator=emulator, image=image, reporter=reporter
            )
        else:
            stand_in = targets.StandIn(aws, emulator, settings, broken={"v3"}, failing=opts.failure)
            stack.callback(stand_in.close)
            url, release_of, errors = stand_in.url, stand_in.release, stand_in.production_5xx
        settings = settings.with_overrides(url=url)
        seeded = seed.seed(aws, emulator, settings, [seed.ImageSpec(t[0]) for t in steps])
        reporter.step(
            f"seeded: cluster {settings.cluster}, service {settings.service} on "
            f"{ecs.short(seeded.bootstrap)} (0 tasks), images {', '.join(seeded.digests)}"
        )
        if opts.failure == "users":
            load.error_alarm(stack, aws, settings, errors, reporter)
        outcomes = [_deploy(opts, settings, reporter, steps[0])]
        users = users_mod.Users(url, release_of, rate=load.USERS_RATE).start()
        stack.callback(users.stop)
        reporter.step(f"users: {load.USERS_RATE:g} requests/s through the production route")
        broken = load.under_load(
            settings, users, outcomes, emulator=emulator, steps=steps,
            deploy=lambda step: _deploy(opts, settings, reporter, step),
        )  # fmt: skip
        final = str(ecs.describe_service(aws, settings)["taskDefinition"])
    good = [o["revision"] for o in outcomes if o["result"] == "success"]
    as_expected = all(o["as_expected"] for o in outcomes) and ecs.short(final) in good[-1:]
    _summary(reporter, outcomes, ecs.short(final), docker, broken)
    result = {
        "strategy": base.strategy,
        "strategy_settings": {k: getattr(base, k) for k in TIMINGS} | {"minute_seconds": MINUTE},
        "docker": docker,
        "load_balancer": "haproxy" if docker else "stand-in",
        "deploys": outcomes,
        "broken_release": broken,
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
    planned = " (broken on purpose: its failure is expected)" if expected != "success" else ""
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
        "deployment": outcome.get("deployment"),
        "rollback": outcome.get("rollback"),
        "seconds": round(reporter.elapsed() - started, 2),
        "as_expected": outcome.get("result") == expected,
    }


def _summary(
    reporter: Reporter, outcomes: list[dict[str, Any]], final: str, docker: bool,
    broken: dict[str, Any],
) -> None:  # fmt: skip
    reporter.info("")
    target = "real containers behind HAProxy" if docker else "stand-in: the model's figures"
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
    back_in = broken["seconds_from_detection_to_all_traffic_on_previous_release"]
    complete = broken["seconds_from_detection_to_rollback_complete"]
    tag, previous = broken["broken_release"], broken["previous_release"]
    reporter.info(
        f"  users during deploy {tag}: {broken['user_requests_sent']} requests, "
        f"{broken['user_requests_answered_by_broken_release']} answered by the broken {tag}"
    )
    reporter.info(
        f"  failure detected → 100 % of traffic on {previous}: "
        + ("not within the run" if back_in is None else f"{back_in:.2f}s")
        + (
            ""
            if complete is None
            else f" (ECS reported the rollback complete after {complete:.2f}s)"
        )
    )
