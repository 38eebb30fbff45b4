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
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopipe import docker_run, ecs
from autopipe.aws import Aws
from autopipe.commands import deploy
from autopipe.commands._shared import ImageOptions
from autopipe.config import STRATEGIES, Settings
from autopipe.errors import AutopipeError, ConfigError
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator
    from ecs_model.users import Users

# (tag, commit, extra environment, expected result)
Step = tuple[str, str, dict[str, str], str]
SCENARIO: tuple[Step, ...] = (
    ("v1", "1111111111111111111111111111111111111111", {}, "success"),
    ("v2", "2222222222222222222222222222222222222222", {}, "success"),
    ("v3", "3333333333333333333333333333333333333333",
     {"DATABASE_URL": "sqlite:////tmp/v3-data/app.db"}, "rolled_back"),
)  # fmt: skip
INTRO = (
    "rehearsal: the deploy stage offline, against an emulated AWS on 127.0.0.1 ({strategy})",
    "  1. deploy v1            expected: success (the first proven release)",
    "  2. deploy v2            expected: success (rolls forward)",
    "  3. deploy v3 (broken)   expected: its {smoke} FAILS, on purpose, and autopipe puts",
    "                          v2 back: this failure is the planned part of the scenario",
    "",
)
# The rehearsal's clock for the strategies: a configured minute lasts MINUTE seconds.
MINUTE = 2.0
TIMINGS: dict[str, Any] = {
    "bake_minutes": 1, "canary_percent": 20.0, "canary_bake_minutes": 1,
    "linear_step_percent": 50.0, "linear_step_minutes": 1, "test_gate_minutes": 10,
}  # fmt: skip
USERS_RATE = 40.0  # requests a second through the production route, from v2's deploy on
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


def run(opts: RehearseOptions, reporter: Reporter) -> dict[str, Any]:
    try:
        # The model of AWS lives outside the product (ecs_model/, which needs moto from the
        # `test` group): imported here only, so the deployer itself never needs it.
        from ecs_model import emulator as emu_mod  # noqa: PLC0415
        from ecs_model import seed, targets  # noqa: PLC0415
        from ecs_model import users as users_mod  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"rehearse needs the ecs_model package and moto[server] (a source checkout, "
            f"uv sync --group test): {exc}"
        ) from exc
    base = strategy_settings(opts, opts.common.settings())
    image = opts.image or base.local_image
    smoke = "smoke test" if base.strategy == "rolling" else "pre-traffic smoke test"
    for n, line in enumerate(INTRO):
        text = line.format(strategy=base.strategy, smoke=smoke)
        reporter.info(text, style="bold" if n == 0 else None)
    docker = use_docker(opts, image, reporter)
    with fake_credentials(), contextlib.ExitStack() as stack:
        emulator = emu_mod.Emulator(step=opts.step, minute=MINUTE)
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
            url, release_of = _real_service(
                stack, aws, settings, emulator=emulator, image=image, reporter=reporter
            )
        else:
            stand_in = targets.StandIn(aws, emulator, settings, broken={"v3"})
            stack.callback(stand_in.close)
            url, release_of = stand_in.url, stand_in.release
        settings = settings.with_overrides(url=url)
        seeded = seed.seed(aws, emulator, settings, [seed.ImageSpec(t[0]) for t in SCENARIO])
        reporter.step(
            f"seeded: cluster {settings.cluster}, service {settings.service} on "
            f"{ecs.short(seeded.bootstrap)} (0 tasks), images {', '.join(seeded.digests)}"
        )
        outcomes = [_deploy(opts, settings, reporter, SCENARIO[0])]
        users = users_mod.Users(url, release_of, rate=USERS_RATE).start()
        stack.callback(users.stop)
        reporter.step(f"users: {USERS_RATE:g} requests/s through the production route")
        broken = _under_load(opts, settings, reporter, users, outcomes)
        final = str(ecs.describe_service(aws, settings)["taskDefinition"])
    good = [o["revision"] for o in outcomes if o["result"] == "success"]
    as_expected = all(o["as_expected"] for o in outcomes) and ecs.short(final) in good[-1:]
    _summary(reporter, outcomes, ecs.short(final), docker, broken)
    result = {
        "strategy": base.strategy,
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


def _real_service(
    stack: contextlib.ExitStack, aws: Aws, settings: Settings, *, emulator: Emulator,
    image: str, reporter: Reporter,
) -> tuple[str, Any]:  # fmt: skip
    """The load balancer on loopback and the fleet of containers behind it."""
    from ecs_model.alb import LoadBalancer  # noqa: PLC0415
    from ecs_model.fleet import Fleet  # noqa: PLC0415
    from ecs_model.seed import TEST_TRAFFIC_SECRET  # noqa: PLC0415

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="autopipe-alb-")))
    balancer = LoadBalancer(workdir, header=settings.test_header, secret=TEST_TRAFFIC_SECRET)
    balancer.start()
    stack.callback(balancer.stop)
    fleet = Fleet(aws, settings, emulator, balancer, image=image, reporter=reporter)
    stack.callback(fleet.close)
    emulator.runner = fleet
    emulator.traffic_listeners.append(fleet.traffic_changed)
    reporter.step(
        f"load balancer (HAProxy) on {balancer.url}: production and test rules over target "
        "groups blue and green"
    )
    return balancer.url, fleet.release


def _under_load(
    opts: RehearseOptions, settings: Settings, reporter: Reporter, users: Users,
    outcomes: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """Deploy v2 and the broken v3 while the users send requests; the broken one's figures."""
    started = time.time()
    for step in SCENARIO[1:]:
        started = time.time()
        outcomes.append(_deploy(opts, settings, reporter, step))
        if step is SCENARIO[-1]:
            _settle(users, broken=step[0], previous=SCENARIO[-2][0])
        outcomes[-1]["user_requests_by_release"] = users.by_release(
            users.between(started, time.time())
        )
    return _figures(make_aws(settings), users, started, outcomes[-1])


def _settle(users: Users, *, broken: str, previous: str) -> None:
    """The deploy returned once ECS reported the rollback complete; the broken release's
    targets may still be draining. Wait until the users get the previous release again after
    the broken one's last answer (or, if it never answered, at all)."""
    from testbed.waiting import wait_for  # noqa: PLC0415

    def back() -> bool:
        answers = users.between(0, time.time())
        last = max((a.at for a in answers if a.release == broken), default=0.0)
        return any(a.release == previous and a.at > last for a in answers)

    with contextlib.suppress(TimeoutError):  # the figures then say: not back within the run
        wait_for(back, f"users answered by {previous} again", 30)


def _figures(aws: Aws, users: Users, started: float, outcome: dict[str, Any]) -> dict[str, Any]:
    from ecs_model.broken_release import measure  # noqa: PLC0415

    failed = str(outcome.get("deployment") or "")
    by = str((outcome.get("rollback") or {}).get("deployment") or "")
    arns = [arn for arn in dict.fromkeys((failed, by)) if arn]
    docs = {}
    if arns:
        answer = aws.ecs().describe_service_deployments(serviceDeploymentArns=arns)
        docs = {d["serviceDeploymentArn"]: dict(d) for d in answer.get("serviceDeployments", [])}
    return measure(
        users.between(started, time.time()), broken=SCENARIO[-1][0],
        previous=SCENARIO[-2][0], deployment=docs.get(failed, {}),
        rollback_deployment=docs.get(by) if by != failed else None,
    )  # fmt: skip


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
