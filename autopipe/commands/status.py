"""`autopipe status`: what runs, how many, which deployments, alarms, lock, recent events, and
for a blue/green, canary or linear deployment in progress its stage, traffic split and time left
(autopipe/traffic_split.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autopipe import ecs, lock, rollout, taskdef, traffic_split
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


@dataclass(frozen=True)
class StatusOptions:
    common: Common = field(default_factory=Common)
    events: int = 5


def _deployment(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d.get("id"),
        "status": d.get("status"),
        "rollout_state": d.get("rolloutState"),
        "revision": ecs.short(str(d.get("taskDefinition", ""))),
        "desired": d.get("desiredCount", 0),
        "running": d.get("runningCount", 0),
        "pending": d.get("pendingCount", 0),
        "failed": d.get("failedTasks", 0),
    }


def _when(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def run(opts: StatusOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    aws = make_aws(settings, dry_run=True)
    service = ecs.describe_service(aws, settings)
    current = str(service["taskDefinition"])
    container = taskdef.container_of(ecs.describe_taskdef(aws, current), settings.container)
    env = taskdef.env_of(container)
    alarms: list[dict[str, str]] = []
    if settings.alarms:
        found = aws.cloudwatch().describe_alarms(AlarmNames=list(settings.alarms))["MetricAlarms"]
        alarms = [{"name": a["AlarmName"], "state": a["StateValue"]} for a in found]
    holder = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id).status()
    events = [
        {"at": _when(e.get("createdAt")), "message": str(e.get("message", ""))}
        for e in service.get("events", [])[: opts.events]
    ]
    arn = service.get("currentServiceDeployment")
    deployment = ecs.describe_deployment(aws, str(arn)) if arn else None
    result: dict[str, Any] = {
        "environment": settings.env,
        "cluster": settings.cluster,
        "service": settings.service,
        "revision": ecs.short(current),
        "image": container.get("image"),
        "image_tag": env.get("IMAGE_TAG"),
        "git_sha": env.get("GIT_SHA"),
        "desired": service.get("desiredCount", 0),
        "running": service.get("runningCount", 0),
        "pending": service.get("pendingCount", 0),
        "steady": _is_steady(service, current),
        "service_deployment": _service_deployment(arn, deployment),
        "traffic_shift": traffic_split.describe(aws, service, deployment, at=traffic_split.now()),
        "deployments": [_deployment(d) for d in service.get("deployments", [])],
        "alarms": alarms,
        "lock": holder.as_dict() if holder else None,
        "events": events,
    }
    _print(reporter, result, holder)
    return result


def _is_steady(service: dict[str, Any], target: str) -> bool:
    deployments = service.get("deployments", [])
    if len(deployments) != 1 or ecs.short(str(deployments[0].get("taskDefinition"))) != ecs.short(
        target
    ):
        return False
    d = deployments[0]
    return (
        d.get("rolloutState", "COMPLETED") == "COMPLETED"
        and d.get("runningCount") == d.get("desiredCount") == service.get("desiredCount")
        and not d.get("pendingCount")
    )


def _service_deployment(arn: Any, found: dict[str, Any] | None) -> dict[str, Any] | None:
    """The service's current deployment as ECS tracks it: status, stage, why."""
    if not arn:
        return None
    if found is None:
        return {"arn": arn, "status": "not visible yet"}
    return {
        "arn": arn,
        "status": found.get("status"),
        "stage": found.get("lifecycleStage"),
        "summary": rollout.summarize(found),
        "reason": rollout.why(found),
    }


def _print(reporter: Reporter, r: dict[str, Any], holder: lock.LockInfo | None) -> None:
    say = reporter.info
    say(f"{r['service']} in {r['cluster']} ({r['environment']})", style="bold")
    say(f"  revision  {r['revision']}  image tag {r['image_tag']}  git {str(r['git_sha'])[:12]}")
    say(f"  image     {r['image']}")
    steady = "steady" if r["steady"] else "NOT steady"
    counts = f"desired {r['desired']}  running {r['running']}  pending {r['pending']}"
    say(f"  tasks     {counts}  ({steady})")
    for d in r["deployments"]:
        say(
            f"  deploy    {d['revision']} {d['status']} {d['rollout_state'] or '-'} "
            f"running {d['running']}/{d['desired']} pending {d['pending']} failed {d['failed']}"
        )
    for a in r["alarms"]:
        say(f"  alarm     {a['name']}: {a['state']}")
    sd = r.get("service_deployment")
    if sd:
        say(f"  ecs       {sd.get('summary', sd['status'])}")
    if r.get("traffic_shift"):
        for line in traffic_split.lines(r["traffic_shift"]):
            say(line)
    say("  lock      " + (f"held by {holder.describe()}" if holder else "free"))
    for e in r["events"]:
        say(f"  event     {e['at']}  {e['message']}", style="dim")
