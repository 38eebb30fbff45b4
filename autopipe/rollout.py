"""Watching a rollout: poll the service every `poll_interval` seconds, print what changed
(deployments, running/pending/desired, rollout state, new service events, alarm states) and
stop at the first verdict: steady, circuit breaker FAILED, ECS rolled back, alarm, timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from autopipe import ecs
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.errors import RollbackFailed
from autopipe.output import Reporter

COMPLETED = "completed"
FAILED = "failed"
ECS_ROLLED_BACK = "ecs_rolled_back"
ALARM = "alarm"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Outcome:
    state: str
    reason: str
    service_taskdef: str

    @property
    def ok(self) -> bool:
        return self.state == COMPLETED


def same_revision(a: str | None, b: str | None) -> bool:
    return bool(a and b) and ecs.short(str(a)) == ecs.short(str(b))


def is_steady(service: dict[str, Any], target: str) -> bool:
    deployments = service.get("deployments", [])
    if len(deployments) != 1 or not same_revision(deployments[0].get("taskDefinition"), target):
        return False
    d = deployments[0]
    return (
        d.get("rolloutState", "COMPLETED") == "COMPLETED"
        and d.get("runningCount") == d.get("desiredCount") == service.get("desiredCount")
        and service.get("runningCount") == service.get("desiredCount")
        and not d.get("pendingCount")
    )


def summarize(service: dict[str, Any]) -> str:
    parts = []
    for d in service.get("deployments", []):
        parts.append(
            f"{ecs.short(d.get('taskDefinition', '?'))} {d.get('status', '?')}"
            f" {d.get('rolloutState', '-')} running {d.get('runningCount', 0)}"
            f"/{d.get('desiredCount', 0)} pending {d.get('pendingCount', 0)}"
            + (f" failed {d['failedTasks']}" if d.get("failedTasks") else "")
        )
    return "deployments: " + ("; ".join(parts) or "none")


def roll_back_to(
    watcher: Watcher, aws: Aws, settings: Settings, reporter: Reporter, target: str
) -> str:
    """Put the service back on `target` (unless ECS already did) and wait for a steady state.
    Returns who rolled back ("ecs" or "autopipe"); raises RollbackFailed."""
    since = datetime.now(UTC)
    service = ecs.describe_service(aws, settings)
    if same_revision(service.get("taskDefinition"), target):
        by = "ecs"
        reporter.step(f"ECS already rolled the service back to {ecs.short(target)}")
    else:
        by = "autopipe"
        ecs.update_service(aws, settings, target)
        reporter.step(f"rollback: service updated to {ecs.short(target)}", style="yellow")
    outcome = watcher.watch(target, timeout=settings.rollback_timeout, alarms=None, since=since)
    if not outcome.ok:
        raise RollbackFailed(
            f"the rollback to {ecs.short(target)} did not stabilise ({outcome.state}: "
            f"{outcome.reason}); the service needs a human",
            details={"rollback": {"to": ecs.short(target), "by": by, "state": outcome.state}},
        )
    reporter.step(f"rollback complete: {ecs.short(target)} is steady", style="yellow")
    return by


class Watcher:
    def __init__(
        self,
        aws: Aws,
        settings: Settings,
        reporter: Reporter,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._aws = aws
        self._settings = settings
        self._reporter = reporter
        self._sleep = sleep
        self._clock = clock
        self._seen_events: set[str] = set()
        self._alarm_states: dict[str, str] = {}

    def watch(
        self,
        target: str,
        *,
        timeout: float,
        alarms: Sequence[str] | None = (),
        since: datetime | None = None,
    ) -> Outcome:
        """`alarms`: names to watch besides the service's own deployment alarms; None watches
        no alarm at all (a rollback must not stop because the failure it undoes still alarms)."""
        deadline = self._clock() + timeout
        last = ""
        while True:
            service = ecs.describe_service(self._aws, self._settings)
            self._report_events(service, since)
            summary = summarize(service)
            if summary != last:
                self._reporter.step(summary, style="cyan")
                last = summary
            verdict = self._verdict(service, target, alarms)
            if verdict is not None:
                return verdict
            remaining = deadline - self._clock()
            if remaining <= 0:
                return Outcome(
                    TIMEOUT, f"no steady state within {timeout:g}s", service["taskDefinition"]
                )
            self._sleep(min(self._settings.poll_interval, remaining))

    def _verdict(
        self, service: dict[str, Any], target: str, alarms: Sequence[str] | None
    ) -> Outcome | None:
        current = str(service.get("taskDefinition", ""))
        ours = [
            d
            for d in service.get("deployments", [])
            if same_revision(d.get("taskDefinition"), target)
        ]
        failed = [d for d in ours if d.get("rolloutState") == "FAILED"]
        if failed:
            reason = failed[0].get("rolloutStateReason") or "deployment FAILED"
            return Outcome(FAILED, str(reason), current)
        if not same_revision(current, target):
            return Outcome(
                ECS_ROLLED_BACK, f"ECS moved the service to {ecs.short(current)}", current
            )
        in_alarm = [] if alarms is None else self._alarms_in_alarm(service, alarms)
        if in_alarm:
            return Outcome(ALARM, f"deployment alarm in ALARM: {', '.join(in_alarm)}", current)
        if is_steady(service, target):
            return Outcome(COMPLETED, "steady state", current)
        return None

    def _alarms_in_alarm(self, service: dict[str, Any], alarms: Sequence[str]) -> list[str]:
        configured = service.get("deploymentConfiguration", {}).get("alarms", {})
        names = sorted({*alarms, *configured.get("alarmNames", [])})
        if not names:
            return []
        found = self._aws.cloudwatch().describe_alarms(AlarmNames=names[:100])["MetricAlarms"]
        for alarm in found:
            name, state = alarm["AlarmName"], alarm["StateValue"]
            if self._alarm_states.get(name) != state:
                self._alarm_states[name] = state
                self._reporter.step(f"alarm {name}: {state}", style="magenta")
        return [a["AlarmName"] for a in found if a["StateValue"] == "ALARM"]

    def _report_events(self, service: dict[str, Any], since: datetime | None) -> None:
        fresh = []
        for event in service.get("events", []):
            event_id = str(event.get("id", ""))
            if event_id in self._seen_events:
                continue
            self._seen_events.add(event_id)
            created = event.get("createdAt")
            if since is None or (isinstance(created, datetime) and created >= since):
                fresh.append(event)
        for event in reversed(fresh):  # ECS lists the newest first
            self._reporter.step(f"event: {event.get('message', '')}", style="dim")
