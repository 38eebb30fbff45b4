"""`autopipe wait`: wait until the service reaches a steady state on the revision it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autopipe import ecs, rollout
from autopipe.errors import NotStable
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


@dataclass(frozen=True)
class WaitOptions:
    common: Common = field(default_factory=Common)
    timeout: float | None = None
    poll_interval: float | None = None


def run(opts: WaitOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings(rollout_timeout=opts.timeout, poll_interval=opts.poll_interval)
    aws = make_aws(settings, dry_run=True)
    target = str(ecs.describe_service(aws, settings)["taskDefinition"])
    watcher = rollout.Watcher(aws, settings, reporter)
    outcome = watcher.watch(
        target, timeout=settings.rollout_timeout, alarms=settings.alarms, since=datetime.now(UTC)
    )
    result = {
        "environment": settings.env,
        "service": settings.service,
        "revision": ecs.short(target),
        "state": outcome.state,
        "reason": outcome.reason,
    }
    if not outcome.ok:
        raise NotStable(f"{settings.service}: {outcome.state}: {outcome.reason}", details=result)
    reporter.step(f"{settings.service} is steady on {ecs.short(target)}", style="green")
    return result
