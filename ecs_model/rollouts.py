"""The rollout engine: ECS's rolling-update deployments, advanced one engine tick at a time.

Every change is written twice, consistently, under one lock: as a service deployment record
(`records.ServiceDeployment`, what DescribeServiceDeployments answers) and into moto's service
object (`deployments[]`, `taskDefinition`, counts and events, what DescribeServices answers).
Whole lists are replaced, never mutated in place, so a concurrent read never sees half an update.

The rules, and the pages they follow:
- UpdateService with a new task definition, or with forceNewDeployment, creates a service
  deployment (PENDING, then IN_PROGRESS); the revisions that ran before are its sources.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html
- A revision whose tasks fail to start fails one task per tick; at the circuit breaker's
  threshold the deployment fails, and with rollback on ECS rolls back to the last revision that
  completed: the same service deployment goes ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS →
  ROLLBACK_SUCCESSFUL (or ROLLBACK_FAILED); DescribeServices shows the failed deployment FAILED
  and a new PRIMARY on the old task definition. Without rollback (or with no completed revision
  to go back to) it is STOPPED.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-failure-detection.html
- Deployment alarms (`deploymentConfiguration.alarms`) are read from CloudWatch while the
  deployment runs and during its bake time; one in ALARM fails it (and rolls back when
  `rollback` is set).
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html
- A newer deployment supersedes an ongoing one, which stops (STOPPED). The docs do not name the
  state a superseded deployment ends in; STOPPED is the completed state for "did not finish".
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ecs_model import alarms
from ecs_model.records import Revision, ServiceDeployment, ecs_deployment_id, new_id, resource_arn
from ecs_model.service_view import ServiceView, now, short
from ecs_model.traffic import Traffic, TrafficShift

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator

CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."
ALARM_REASON = "ECS deployment {id} failed: alarm(s) {names} are in ALARM state."


class Rollouts(ServiceView):
    """The engine. `active`: service key → its ongoing service deployment."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.lock = threading.RLock()
        self.active: dict[str, ServiceDeployment] = {}
        self.history: dict[str, list[ServiceDeployment]] = {}  # key → oldest first
        self.by_arn: dict[str, ServiceDeployment] = {}
        self.revisions: dict[str, Revision] = {}
        self.serving: dict[str, str] = {}  # service key → task definition serving traffic
        self.current: dict[str, Revision] = {}  # service key → the revision ECS runs now
        self.services: dict[str, Any] = {}  # service key → moto's service object
        self.steady_at: list[tuple[float, str, str]] = []  # (monotonic, key, family:revision)
        # blue/green, canary, linear (traffic.py): who answers production and test requests
        self.traffic: dict[str, Traffic] = {}
        self.shift = TrafficShift(self)
        self.circuit_breaker_reason = CIRCUIT_BREAKER

    def route(self, key: str, *, test: bool = False) -> str | None:
        """The task definition that answers one request to the service's load balancer: by the
        traffic shares of a blue/green, canary or linear deployment (counted in
        `traffic[key].served`), else the revision a rolling update made steady. A test request
        reaches only a revision under test."""
        with self.lock:
            traffic = self.traffic.get(key)
            if traffic is not None:
                return traffic.route(test=test)
            return None if test else self.serving.get(key)

    def clear(self) -> None:
        with self.lock:
            for store in (
                self.active,
                self.history,
                self.by_arn,
                self.revisions,
                self.serving,
                self.current,
                self.services,
                self.traffic,
            ):
                store.clear()
            self.steady_at.clear()

    def fail_active(self, tag: str) -> int:
        """From now on the tasks of ongoing deployments of `tag` fail to start (what a bad
        config does once tasks are placed); the circuit breaker counts them. Returns how many
        deployments that touched."""
        with self.lock:
            hit = [sd for sd in self.active.values() if sd.tag == tag]
            for sd in hit:
                sd.outcome = "fail"
            return len(hit)

    def deployments_of(self, key: str) -> list[ServiceDeployment]:
        return list(self.history.get(key, []))

    # --- creation (called from moto's request threads, under the lock) ----------------------

    def create(
        self, service: Any, revision: Revision, *, initial: bool = False
    ) -> ServiceDeployment:
        key = f"{service.cluster_name}:{service.name}"
        self.services[key] = service
        previous = self.current.get(key)
        running = int(service.running_count or 0)
        sources = [(previous, running)] if previous is not None else []
        sd = ServiceDeployment(
            arn=resource_arn("service-deployment", service, new_id()),
            key=key,
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            target=revision,
            sources=sources,
            requested=int(service.desired_count or 0),
            config=dict(getattr(service, "deployment_configuration", None) or {}),
            created_at=now(),
            ecs_id=ecs_deployment_id(),
            outcome=self.emulator.policy.outcome(revision.tag),
            phase_started=time.monotonic(),
        )
        ongoing = self.active.pop(key, None)
        if ongoing is not None:
            self._finish(ongoing, "STOPPED", f"superseded by {short(sd.arn)}", stopped=True)
        self.history.setdefault(key, []).append(sd)
        self.by_arn[sd.arn] = sd
        self.revisions[revision.arn] = revision
        self.current[key] = revision
        if initial and sd.requested == 0:
            sd.started_at = sd.created_at
            self._finish(sd, "SUCCESSFUL", "")
            return sd
        self.active[key] = sd
        self._begin_ecs_deployment(service, sd.ecs_id, revision.task_definition)
        return sd

    # --- the engine ---------------------------------------------------------------------------

    def tick(self, at: float) -> None:
        with self.lock:
            for sd in list(self.active.values()):
                self._advance(sd, at)

    def _advance(self, sd: ServiceDeployment, at: float) -> None:
        if sd.status == "PENDING":
            sd.status, sd.started_at, sd.updated_at = "IN_PROGRESS", now(), now()
            sd.next_alarm_check = at + self.emulator.alarm_poll
        self._notify(sd)
        if sd.shifts_traffic and self._advance_shift(sd, at):
            return
        if sd.status == "STOP_REQUESTED":
            reason = "stopped by StopServiceDeployment (ABORT)"
            self._ecs_update(sd.ecs_id, rolloutState="FAILED", rolloutStateReason=reason)
            self._finish(sd, "STOPPED", reason, stopped=True)
        elif sd.status == "ROLLBACK_REQUESTED":
            self._start_rollback(sd, at)
        elif sd.status == "IN_PROGRESS":
            if self._alarmed(sd, at):
                return
            result = self._phase(sd, at, sd.ecs_id, sd.taskdef_arn)
            if result == "failed":
                self._fail(sd, CIRCUIT_BREAKER, sd.breaker.get("rollback", False))
            elif result == "steady":
                self._steady(sd, at)
        elif sd.status == "ROLLBACK_IN_PROGRESS" and sd.rollback_revision is not None:
            result = self._phase(sd, at, sd.rollback_ecs_id, sd.rollback_revision.task_definition)
            if result == "failed":
                self._finish(sd, "ROLLBACK_FAILED", "the rollback's tasks failed to start")
            elif result == "steady":
                self._ecs_completed(sd.rollback_ecs_id, sd.rollback_revision.task_definition, at)
                self._finish(sd, "ROLLBACK_SUCCESSFUL", sd.status_reason)

    def _notify(self, sd: ServiceDeployment) -> None:
        if not sd.notified:
            sd.notified = True
            for callback in self.emulator.policy.on_rollout:
                callback(sd.tag)

    def _advance_shift(self, sd: ServiceDeployment, at: float) -> bool:
        """A blue/green, canary or linear deployment's step; False: the rolling rules apply
        (STOP_REQUESTED)."""
        if sd.status == "ROLLBACK_REQUESTED":
            self._shift_rollback(sd)
        elif sd.status == "ROLLBACK_IN_PROGRESS":
            self._blue_restored(sd, at)
        elif sd.status == "IN_PROGRESS":
            if not self._alarmed(sd, at):
                self.shift.advance(sd, at)
        else:
            return False
        return True

    def _phase(self, sd: ServiceDeployment, at: float, ecs_id: str, taskdef: str) -> str:
        """One tick of rolling tasks out: pending | steady | failed."""
        if sd.outcome == "hang":
            return "pending"
        if sd.outcome == "fail":
            per_tick = self.emulator.task_failures_per_tick
            if sd.status == "ROLLBACK_IN_PROGRESS":
                sd.rollback_failures = failed = min(sd.threshold, sd.rollback_failures + per_tick)
            else:
                sd.failure_count = failed = min(sd.threshold, sd.failure_count + per_tick)
            self._ecs_update(ecs_id, failedTasks=failed)
            if sd.breaker.get("enable") and failed >= sd.threshold:
                return "failed"
            return "pending"  # without the breaker ECS keeps retrying
        runner = self.emulator.runner
        if runner is not None:
            if not sd.runner_started:
                sd.runner_started = True
                runner.start(sd.key, taskdef)
                return "pending"
            state = runner.state(sd.key, taskdef)
            return {"pending": "pending", "failed": "failed"}.get(state, "steady")
        return "steady" if at - sd.phase_started >= self.emulator.step else "pending"

    def _steady(self, sd: ServiceDeployment, at: float) -> None:
        if sd.steady_since is None:
            sd.steady_since = at
            sd.running, sd.pending = sd.requested, 0
            self._ecs_update(sd.ecs_id, runningCount=sd.requested, pendingCount=0)
            service = self._service(sd.key)
            if service is not None:
                service.running_count, service.pending_count = sd.requested, 0
        bake = self.emulator.bake_time if sd.alarm_config.get("enable") else 0.0
        if at - sd.steady_since < bake:
            return
        self._ecs_completed(sd.ecs_id, sd.taskdef_arn, at)
        self._finish(sd, "SUCCESSFUL", "")

    def _alarmed(self, sd: ServiceDeployment, at: float) -> bool:
        """Alarms are read every `alarm_poll` seconds; the first read is one interval after the
        deployment starts. ECS fails a deployment when an alarm is in ALARM, so an alarm that
        is already red when the deployment starts fails it at that first read (the docs speak
        of the alarm state, not of a transition)."""
        config = sd.alarm_config
        if not config.get("enable") or at < sd.next_alarm_check:
            return False
        sd.next_alarm_check = at + self.emulator.alarm_poll
        region = sd.service_arn.split(":")[3]
        red = alarms.in_alarm(region, list(config.get("alarmNames", [])))
        if not red:
            return False
        sd.triggered = red
        reason = ALARM_REASON.format(id=sd.ecs_id, names=", ".join(red))
        self._fail(sd, reason, bool(config.get("rollback")))
        return True

    # --- state changes --------------------------------------------------------------------------

    def last_proven(self, key: str, *, before: ServiceDeployment) -> Revision | None:
        """The revision of the newest deployment that completed: SUCCESSFUL (its target) or
        ROLLBACK_SUCCESSFUL (the revision it went back to)."""
        for sd in reversed(self.history.get(key, [])):
            if sd is before:
                continue
            if sd.status == "SUCCESSFUL":
                return sd.target
            if sd.status == "ROLLBACK_SUCCESSFUL" and sd.rollback_revision is not None:
                return sd.rollback_revision
        return None

    def _fail(self, sd: ServiceDeployment, reason: str, rollback: bool) -> None:
        self._ecs_update(
            sd.ecs_id,
            rolloutState="FAILED",
            rolloutStateReason=reason,
            runningCount=0,
            pendingCount=0,
        )
        self._event(sd.key, f"(deployment {sd.ecs_id}) deployment failed: {reason}")
        target = self.last_proven(sd.key, before=sd) if rollback else None
        if rollback and sd.shifts_traffic and sd.sources:
            target = sd.sources[0][0]  # blue: its tasks still run
        if target is None:
            self._finish(sd, "STOPPED", reason, stopped=True)
            return
        # ECS's own rollback starts in the same step that fails the deployment: DescribeServices
        # never shows it FAILED on the failed revision without the rollback under way.
        self.request_rollback(sd, target, reason)
        if sd.shifts_traffic:
            self._shift_rollback(sd)
            return
        self._start_rollback(sd, time.monotonic())

    # --- blue/green, canary, linear (the stages are traffic.py's) -------------------------------

    def fail_shift(self, sd: ServiceDeployment, reason: str) -> None:
        """A failed stage: the circuit breaker follows its rollback option; a failed hook always
        rolls back (deployment-lifecycle-hooks.html)."""
        rollback = sd.breaker.get("rollback", False) if reason == CIRCUIT_BREAKER else True
        self._fail(sd, reason, bool(rollback))

    def green_running(self, sd: ServiceDeployment) -> None:
        sd.running, sd.pending = sd.requested, 0
        self._ecs_update(sd.ecs_id, runningCount=sd.requested, pendingCount=0)
        service = self._service(sd.key)
        if service is not None:
            blue = sum(running for _, running in sd.sources)
            service.running_count, service.pending_count = blue + sd.requested, 0

    def completed_shift(self, sd: ServiceDeployment, at: float) -> None:
        self._ecs_completed(sd.ecs_id, sd.taskdef_arn, at)
        self._finish(sd, "SUCCESSFUL", "")

    def _shift_rollback(self, sd: ServiceDeployment) -> None:
        """Traffic back to blue in this step; the green tasks stop in the next."""
        target = sd.rollback_revision
        service = self._service(sd.key)
        if target is None or service is None:
            self._finish(sd, "ROLLBACK_FAILED", "no revision to roll back to")
            return
        sd.status, sd.updated_at = "ROLLBACK_IN_PROGRESS", now()
        self.shift.roll_back(sd)
        self._event(sd.key, f"rolling back to {short(target.task_definition)} ({sd.arn}).")
        self._ecs_update(sd.ecs_id, rolloutState="FAILED", rolloutStateReason=sd.status_reason)
        service.task_definition = target.task_definition
        self.current[sd.key] = target

    def _blue_restored(self, sd: ServiceDeployment, at: float) -> None:
        target = sd.rollback_revision
        service = self._service(sd.key)
        if target is None or service is None:
            self._finish(sd, "ROLLBACK_FAILED", "no revision to roll back to")
            return
        blue = next(
            (d for d in service.deployments if d["taskDefinition"] == target.task_definition),
            None,
        )
        if blue is None:  # no entry left for it: the view starts one that is already steady
            sd.rollback_ecs_id = ecs_deployment_id()
            self._begin_ecs_deployment(service, sd.rollback_ecs_id, target.task_definition)
        else:
            sd.rollback_ecs_id = str(blue["id"])
        sd.running = 0
        self._ecs_completed(sd.rollback_ecs_id, target.task_definition, at)
        self._finish(sd, "ROLLBACK_SUCCESSFUL", sd.status_reason)

    def request_rollback(self, sd: ServiceDeployment, target: Revision, reason: str) -> None:
        sd.status, sd.status_reason, sd.updated_at = "ROLLBACK_REQUESTED", reason, now()
        sd.rollback = {"reason": reason, "startedAt": now(), "serviceRevisionArn": target.arn}
        sd.rollback_revision = target

    def _start_rollback(self, sd: ServiceDeployment, at: float) -> None:
        target = sd.rollback_revision
        service = self._service(sd.key)
        if target is None or service is None:
            self._finish(sd, "ROLLBACK_FAILED", "no revision to roll back to")
            return
        sd.status, sd.updated_at = "ROLLBACK_IN_PROGRESS", now()
        sd.outcome = self.emulator.policy.outcome(target.tag)
        sd.phase_started, sd.runner_started = at, False
        sd.rollback_ecs_id = ecs_deployment_id()
        self._event(sd.key, f"rolling back to {short(target.task_definition)} ({sd.arn}).")
        self._ecs_update(sd.ecs_id, status="ACTIVE")
        service.task_definition = target.task_definition
        self.current[sd.key] = target
        self._begin_ecs_deployment(service, sd.rollback_ecs_id, target.task_definition)

    def _finish(
        self, sd: ServiceDeployment, status: str, reason: str, *, stopped: bool = False
    ) -> None:
        stamp = now()
        sd.status, sd.status_reason, sd.updated_at = status, reason, stamp
        sd.finished_at = stamp
        if stopped:
            sd.stopped_at = stamp
        if self.active.get(sd.key) is sd:
            del self.active[sd.key]
