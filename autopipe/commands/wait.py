"""`autopipe wait`: wait until the service's current deployment (`currentServiceDeployment`)
is final: SUCCESSFUL, or rolled back by ECS (the service is steady on the revision it went back
to). Anything else, or the timeout, is exit 8."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    service = ecs.describe_service(aws, settings)
    target = str(service["taskDefinition"])
    arn = str(service.get("currentServiceDeployment") or "")
    if not arn:
        raise NotStable(f"{settings.service}: ECS names no current service deployment")
    watcher = rollout.Watcher(aws, settings, reporter)
    outcome = watcher.watch(arn, timeout=settings.rollout_timeout, what="wait")
    revision = (outcome.deployment.get("targetServiceRevision") or {}).get("arn")
    if outcome.state == rollout.ECS_ROLLED_BACK:
        revision = (outcome.deployment.get("rollback") or {}).get("serviceRevisionArn")
    if revision:
        target = ecs.revision_taskdef(aws, str(revision)) or target
    result = {
        "environment": settings.env,
        "service": settings.service,
        "revision": ecs.short(target),
        "deployment": arn,
        "state": outcome.state,
        "reason": outcome.reason,
    }
    if outcome.state not in (rollout.COMPLETED, rollout.ECS_ROLLED_BACK):
        raise NotStable(f"{settings.service}: {outcome.state}: {outcome.reason}", details=result)
    reporter.step(f"{settings.service} is steady on {ecs.short(target)}", style="green")
    return result
