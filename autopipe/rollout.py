"""Watching a rollout: one SERVICE DEPLOYMENT, by its ARN, until ECS gives it a final status.

ECS reports every deployment of a service as a service deployment with its own status
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html):
PENDING → IN_PROGRESS → SUCCESSFUL, or, when the circuit breaker or a deployment alarm fails
it with rollback on (or someone calls StopServiceDeployment with ROLLBACK), ROLLBACK_REQUESTED
→ ROLLBACK_IN_PROGRESS → ROLLBACK_SUCCESSFUL / ROLLBACK_FAILED; STOP_REQUESTED → STOPPED.
The verdict is that status and nothing else: never a comparison of task-definition revisions,
which an eventually consistent DescribeServices can report stale right after an update
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/eventual-consistency.html), and
never another deployment's status. A read that cannot find the deployment yet, or that shows
an earlier status than one already seen, is a stale read: the watch carries on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autopipe import ecs
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.output import Reporter
from autopipe.persist import Persistence

COMPLETED = "completed"
ECS_ROLLED_BACK = "ecs_rolled_back"
ROLLBACK_FAILED = "rollback_failed"
STOPPED = "stopped"
ALARM = "alarm"
TIMEOUT = "timeout"
REACHED = "reached"  # a blue/green, canary or linear deployment reached the stage watched for

# The order ECS moves through; a read showing an earlier status than one seen is stale.
ORDER = {
    "PENDING": 0,
    "IN_PROGRESS": 1,
    "STOP_REQUESTED": 2,
    "ROLLBACK_REQUESTED": 2,
    "ROLLBACK_IN_PROGRESS": 3,
    "SUCCESSFUL": 9,
    "STOPPED": 9,
    "ROLLBACK_SUCCESSFUL": 9,
    "ROLLBACK_FAILED": 9,
}
FINAL = {
    "SUCCESSFUL": COMPLETED,
    "ROLLBACK_SUCCESSFUL": ECS_ROLLED_BACK,
    "ROLLBACK_FAILED": ROLLBACK_FAILED,
    "STOPPED": STOPPED,
}
# StopServiceDeployment(ROLLBACK) is accepted in these states (stop-service-deployment.html).
STOPPABLE = frozenset({"PENDING", "IN_PROGRESS"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


@dataclass(frozen=True)
class Outcome:
    state: str
    reason: str
    deployment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == COMPLETED

    @property
    def status(self) -> str:
        return str(self.deployment.get("status", ""))


def why(deployment: dict[str, Any]) -> str:
    """ECS's own account of a deployment's end: rollback reason, breaker, alarms, status."""
    parts = []
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    if breaker.get("status") == "TRIGGERED":
        parts.append(
            f"circuit breaker: {breaker.get('failureCount')} of {breaker.get('threshold')} "
            "tasks failed"
        )
    alarms = deployment.get("alarms") or {}
    if alarms.get("status") == "TRIGGERED":
        parts.append(f"alarm in ALARM: {', '.join(alarms.get('triggeredAlarmNames') or [])}")
    reason = (deployment.get("rollback") or {}).get("reason") or deployment.get("statusReason")
    if reason and not parts:
        parts.append(str(reason).rstrip("."))
    return "; ".join(parts) or str(deployment.get("status", "no reason given"))


def summarize(deployment: dict[str, Any]) -> str:
    target = deployment.get("targetServiceRevision") or {}
    stage = deployment.get("lifecycleStage")
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    text = (
        f"deployment {short_id(str(deployment.get('serviceDeploymentArn', '?')))} "
        f"{deployment.get('status', '?')}"
        + (f" {stage}" if stage else "")
        + f" running {target.get('runningTaskCount', 0)}/{target.get('requestedTaskCount', 0)}"
        f" pending {target.get('pendingTaskCount', 0)}"
    )
    if breaker.get("failureCount"):
        text += f" failed {breaker['failureCount']}/{breaker.get('threshold', '?')}"
    return text


def short_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


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
        self._aws, self._settings, self._reporter = aws, settings, reporter
        self.sleep, self.clock = sleep, clock  # the rollback waits on the same seams
        self.persist = Persistence(reporter, sleep=sleep, clock=clock)
        self._alarm_states: dict[str, str] = {}
        self._seen_events: set[str] = set()

    def watch(
        self,
        arn: str,
        *,
        timeout: float,
        alarms: Sequence[str] = (),
        what: str = "rollout",
        until: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Outcome:
        """Until the deployment `arn` is final or `timeout` passes. `alarms`: alarms ECS does
        not act on (not in the service's deploymentConfiguration) that autopipe watches; one
        in ALARM ends the watch with ALARM so the caller asks ECS to roll back. `until`: a
        stage of an IN_PROGRESS deployment that ends the watch with REACHED."""
        deadline = self.clock() + timeout
        best: dict[str, Any] = {}
        last = ""
        while True:
            remaining = deadline - self.clock()
            found = self.persist.call(
                f"{what}: DescribeServiceDeployments",
                lambda: ecs.describe_deployment(self._aws, arn),
                within=max(remaining, 1.0),
            )
            if found is not None and ORDER.get(found.get("status", ""), 0) >= ORDER.get(
                best.get("status", ""), -1
            ):
                best = found
            if best:
                summary = summarize(best)
                if summary != last:
                    self._reporter.step(summary, style="cyan")
                    last = summary
                final = FINAL.get(str(best.get("status")))
                if final is not None:
                    return Outcome(final, why(best) if final != COMPLETED else "steady", best)
                if until is not None and best.get("status") == "IN_PROGRESS" and until(best):
                    return Outcome(REACHED, str(best.get("lifecycleStage", "")), best)
                in_alarm = self.alarms_in_alarm(alarms)
                if in_alarm and best.get("status") in STOPPABLE:
                    return Outcome(ALARM, f"alarm in ALARM: {', '.join(in_alarm)}", best)
            self._report_events()
            if self.clock() >= deadline:
                state = best.get("status", "not visible yet")
                return Outcome(TIMEOUT, f"still {state} after {timeout:g}s", best)
            self.sleep(min(self._settings.poll_interval, max(deadline - self.clock(), 0)))

    def alarms_in_alarm(self, alarms: Sequence[str]) -> list[str]:
        if not alarms:
            return []
        names = sorted(set(alarms))
        try:
            found = self._aws.cloudwatch().describe_alarms(AlarmNames=names[:100])
        except Exception as exc:  # a missed alarm read is retried at the next poll
            self._reporter.warn(f"could not read alarms: {type(exc).__name__}")
            return []
        states = [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
        for alarm in states:
            name, state = str(alarm["AlarmName"]), str(alarm["StateValue"])
            if self._alarm_states.get(name) != state:
                self._alarm_states[name] = state
                self._reporter.step(f"alarm {name}: {state}", style="magenta")
        return [str(a["AlarmName"]) for a in states if a["StateValue"] == "ALARM"]

    def _report_events(self) -> None:
        """New service events, for the person watching (best effort: never decides)."""
        try:
            service = ecs.describe_service(self._aws, self._settings)
        except Exception:
            return
        fresh = []
        for event in service.get("events", []):
            event_id = str(event.get("id", ""))
            if event_id not in self._seen_events:
                self._seen_events.add(event_id)
                fresh.append(event)
        for event in reversed(fresh[:5]):  # ECS lists the newest first
            self._reporter.step(f"event: {event.get('message', '')}", style="dim")

    def skip_old_events(self) -> None:
        """Mark the events already there as seen, so a watch prints only what happens now."""
        try:
            service = ecs.describe_service(self._aws, self._settings)
        except Exception:
            return
        self._seen_events.update(str(e.get("id", "")) for e in service.get("events", []))
