"""The rehearsal under load: the real service behind the loopback load balancer, the 5xx alarm
its answers feed, the users, and the broken release's figures (ecs_model/broken_release.py).
Imports ecs_model only inside functions: the deployer itself never needs it."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopipe import ecs
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.output import Reporter
from autopipe.runner import make_aws

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator
    from ecs_model.users import Users

USERS_RATE = 40.0  # requests a second through the production route, from v2's deploy on
Step = tuple[str, str, dict[str, str], str]
Exposure = tuple[float, float, float]  # (from, to, percent): ecs_model/broken_release.py


def real_service(
    stack: contextlib.ExitStack, aws: Aws, settings: Settings, *, emulator: Emulator,
    image: str, reporter: Reporter,
) -> tuple[str, Callable[[str], str | None], Callable[[], int]]:  # fmt: skip
    """The load balancer on loopback and the fleet of containers behind it: the URL, who
    answered a request, and the production route's 5xx count."""
    from ecs_model.alb import LoadBalancer  # noqa: PLC0415
    from ecs_model.fleet import Fleet  # noqa: PLC0415
    from ecs_model.seed import TEST_TRAFFIC_SECRET  # noqa: PLC0415

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="autopipe-alb-")))
    balancer = LoadBalancer(workdir, header=settings.test_header, secret=TEST_TRAFFIC_SECRET)
    balancer.start()
    stack.callback(balancer.stop)
    fleet = Fleet(
        aws, settings, emulator, balancer, image=image, reporter=reporter, workdir=workdir
    )
    stack.callback(fleet.close)
    emulator.runner = fleet
    emulator.traffic_listeners.append(fleet.traffic_changed)
    reporter.step(
        f"load balancer (HAProxy) on {balancer.url}: production and test rules over target "
        "groups blue and green"
    )
    return balancer.url, fleet.release, balancer.production_5xx


def error_alarm(
    stack: contextlib.ExitStack, aws: Aws, settings: Settings, errors: Callable[[], int],
    reporter: Reporter,
) -> None:  # fmt: skip
    """Feed the environment's 5xx deployment alarm from the production route's answers."""
    from ecs_model.error_alarm import ErrorAlarm  # noqa: PLC0415

    names = [a for a in settings.alarms if "5xx" in a] or list(settings.alarms[:1])
    if not names:
        return
    alarm = ErrorAlarm(aws.cloudwatch(), names[0], errors).start()
    stack.callback(alarm.stop)
    reporter.step(
        f"alarm {names[0]}: ALARM when the production route answers more than "
        f"{alarm.threshold} 5xx in {alarm.window:g}s"
    )


def under_load(
    settings: Settings, users: Users, outcomes: list[dict[str, Any]], *, emulator: Emulator,
    steps: tuple[Step, ...], deploy: Callable[[Step], dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """Deploy the steps after the first while the users send requests; the broken (last)
    release's figures."""
    started = time.time()
    broken, previous = steps[-1][0], steps[-2][0]
    for step in steps[1:]:
        started = time.time()
        outcomes.append(deploy(step))
        if step is steps[-1]:
            settle(users, broken=broken, previous=previous)
        outcomes[-1]["user_requests_by_release"] = users.by_release(
            users.between(started, time.time())
        )
    revision = str(outcomes[-1].get("revision") or "")
    return figures(
        make_aws(settings), users, started, outcomes[-1], broken=broken, previous=previous,
        exposure=exposure(emulator, settings, revision),
    )  # fmt: skip


def exposure(emulator: Emulator, settings: Settings, revision: str) -> Exposure | None:
    """When `revision` first held a production share, until the load balancer had applied the
    next change of the shares, and that share (the model's traffic record; None: it never had
    one, or a rolling update)."""
    traffic = emulator.rollouts.traffic.get(f"{settings.cluster}:{settings.service}")
    if traffic is None:
        return None
    for n, (at, shares, _) in enumerate(traffic.changes):
        share = sum(v for arn, v in shares.items() if ecs.short(arn) == revision)
        if share > 0:
            end = traffic.applied[n + 1] if n + 1 < len(traffic.applied) else time.time()
            return at, end, share
    return None


def settle(users: Users, *, broken: str, previous: str) -> None:
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


def figures(
    aws: Aws, users: Users, started: float, outcome: dict[str, Any], *, broken: str,
    previous: str, exposure: Exposure | None = None,
) -> dict[str, Any]:  # fmt: skip
    from ecs_model.broken_release import measure  # noqa: PLC0415

    failed = str(outcome.get("deployment") or "")
    by = str((outcome.get("rollback") or {}).get("deployment") or "")
    arns = [arn for arn in dict.fromkeys((failed, by)) if arn]
    docs = {}
    if arns:
        answer = aws.ecs().describe_service_deployments(serviceDeploymentArns=arns)
        docs = {d["serviceDeploymentArn"]: dict(d) for d in answer.get("serviceDeployments", [])}
    return measure(
        users.between(started, time.time()), broken=broken, previous=previous,
        deployment=docs.get(failed, {}), rollback_deployment=docs.get(by) if by != failed else None,
        exposure=exposure,
    )  # fmt: skip
