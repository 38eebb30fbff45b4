"""The rollout engine: ECS deployment state as ECS would report it, written into moto's
in-memory service objects (whole lists replaced, never mutated in place, so a concurrent
DescribeServices never sees half an update)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autopipe.rehearsal.emulator import Emulator

CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."


@dataclass
class Rollout:
    key: str
    service: Any
    deployment_id: str
    taskdef_arn: str
    tag: str
    outcome: str
    started: float
    notified: bool = False
    runner_started: bool = False


def short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class Deployments:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.lock = threading.RLock()
        self.active: dict[str, Rollout] = {}
        self.serving: dict[str, str] = {}  # service key → revision ARN serving traffic
        self.steady_at: list[tuple[float, str, str]] = []  # (monotonic, key, family:revision)

    def clear(self) -> None:
        with self.lock:
            self.active.clear()
            self.serving.clear()
            self.steady_at.clear()

    @staticmethod
    def tag_of(backend: Any, arn: str) -> str:
        definition = backend.describe_task_definition(arn)
        for container in definition.container_definitions:
            for entry in container.get("environment", []):
                if entry.get("name") == "IMAGE_TAG":
                    return str(entry.get("value"))
        return ""

    # --- hooks called from moto's request threads --------------------------------------------

    def on_update(self, backend: Any, service: Any) -> None:
        arn = backend.describe_task_definition(service.task_definition).arn
        service.task_definition = arn  # moto keeps what was passed; ECS answers with the ARN
        key = f"{service.cluster_name}:{service.name}"
        primary = service.deployments[0] if service.deployments else None
        if key in self.active and self.active[key].taskdef_arn == arn:
            return
        if primary and primary["taskDefinition"] == arn and key not in self.active:
            desired = service.desired_count  # a scale-only update: instant in the emulator
            service.deployments = [
                {**primary, "desiredCount": desired, "runningCount": desired, "pendingCount": 0}
            ]
            service.running_count, service.pending_count = desired, 0
            return
        self.begin(backend, service, arn)

    def on_task(self, backend: Any, task: Any) -> None:
        code = self.emulator.policy.migration_exit.get(
            self.tag_of(backend, task.task_definition_arn), 0
        )
        for container in task.containers:
            container.exitCode = code
            container.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = "Essential container in task exited"

    # --- state changes -----------------------------------------------------------------------

    def begin(self, backend: Any, service: Any, arn: str) -> None:
        key = f"{service.cluster_name}:{service.name}"
        tag = self.tag_of(backend, arn)
        desired = service.desired_count
        deployment_id = f"ecs-svc/{random.randrange(10**18, 10**19)}"  # noqa: S311 - an id
        now = datetime.now(UTC)
        new = {
            "id": deployment_id, "status": "PRIMARY", "taskDefinition": arn,
            "desiredCount": desired, "pendingCount": desired, "runningCount": 0,
            "failedTasks": 0, "createdAt": now, "updatedAt": now, "launchType": "FARGATE",
            "platformFamily": "FARGATE", "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
        }  # fmt: skip
        older = [
            {**d, "status": "ACTIVE"}
            for d in service.deployments
            if d["status"] == "PRIMARY" or d.get("rolloutState") == "FAILED"
        ][:1]
        service.deployments = [new, *older]
        service.running_count = sum(int(d.get("runningCount", 0)) for d in older)
        service.pending_count = desired
        self.event(service, f"has started {desired} tasks: (deployment {deployment_id}).")
        outcome = self.emulator.policy.outcome(tag)
        self.active[key] = Rollout(key, service, deployment_id, arn, tag, outcome, time.monotonic())

    def tick(self, now: float) -> None:
        with self.lock:
            for rollout in list(self.active.values()):
                self._advance(rollout, now)

    def _advance(self, r: Rollout, now: float) -> None:
        if not r.notified:
            r.notified = True
            for callback in self.emulator.policy.on_rollout:
                callback(r.tag)
        if r.outcome == "hang":
            return
        runner = self.emulator.runner
        if runner is not None and r.outcome == "complete":
            if not r.runner_started:
                r.runner_started = True
                runner.start(r.key, r.taskdef_arn)
                return
            state = runner.state(r.key, r.taskdef_arn)
            if state == "pending":
                return
            if state == "failed":
                self._fail(r)
                return
        elif now - r.started < self.emulator.step:
            return
        if r.outcome == "fail":
            self._fail(r)
        else:
            self._complete(r, now)

    def _complete(self, r: Rollout, now: float) -> None:
        service = r.service
        desired = service.desired_count
        deployment = next(d for d in service.deployments if d["id"] == r.deployment_id)
        service.deployments = [
            {
                **deployment, "rolloutState": "COMPLETED",
                "rolloutStateReason": f"ECS deployment {r.deployment_id} completed.",
                "runningCount": desired, "pendingCount": 0, "updatedAt": datetime.now(UTC),
            }
        ]  # fmt: skip
        service.running_count, service.pending_count = desired, 0
        self.event(service, f"(deployment {r.deployment_id}) deployment completed.")
        self.event(service, "has reached a steady state.")
        self.serving[r.key] = r.taskdef_arn
        self.steady_at.append((now, r.key, short(r.taskdef_arn)))
        del self.active[r.key]

    def _fail(self, r: Rollout) -> None:
        service = r.service
        failed = next(d for d in service.deployments if d["id"] == r.deployment_id)
        others = [d for d in service.deployments if d["id"] != r.deployment_id]
        failed = {
            **failed, "rolloutState": "FAILED", "rolloutStateReason": CIRCUIT_BREAKER,
            "failedTasks": max(1, service.desired_count), "runningCount": 0, "pendingCount": 0,
            "updatedAt": datetime.now(UTC),
        }  # fmt: skip
        self.event(
            service, f"(deployment {r.deployment_id}) deployment failed: tasks failed to start."
        )
        del self.active[r.key]
        config = getattr(service, "deployment_configuration", None) or {}
        breaker = config.get("deploymentCircuitBreaker", {})
        if breaker.get("enable") and breaker.get("rollback") and others:
            previous = others[0]["taskDefinition"]
            self.event(
                service, f"rolling back to deployment {others[0]['id']} ({short(previous)})."
            )
            service.deployments = [{**failed, "status": "ACTIVE"}]
            service.task_definition = previous
            backend = r.service._backend
            self.begin(backend, service, previous)
        else:
            service.deployments = [failed, *others]

    @staticmethod
    def event(service: Any, text: str) -> None:
        entry = {
            "id": str(uuid.uuid4()),
            "createdAt": datetime.now(UTC),
            "message": f"(service {service.name}) {text}",
        }
        service.events = [entry, *service.events][:100]
