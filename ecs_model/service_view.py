"""DescribeServices' view of the deployments the engine runs: moto's service object
(`deployments[]` PRIMARY/ACTIVE with rolloutState and counts, `taskDefinition`, events), kept
consistent with the service deployment records. Lists are replaced, never mutated in place.

https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages.html
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator
    from ecs_model.traffic import Traffic


def short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def now() -> datetime:
    return datetime.now(UTC)


class ServiceView:
    services: dict[str, Any]  # service key → moto's service object
    serving: dict[str, str]  # service key → task definition serving traffic
    steady_at: list[tuple[float, str, str]]  # (monotonic, key, family:revision)
    traffic: dict[str, Traffic]  # service key → production/test shares (traffic.py)
    emulator: Emulator

    def _service(self, key: str) -> Any:
        return self.services.get(key)

    def _begin_ecs_deployment(self, service: Any, deployment_id: str, taskdef: str) -> None:
        desired = int(service.desired_count or 0)
        stamp = now()
        new = {
            "id": deployment_id,
            "status": "PRIMARY",
            "taskDefinition": taskdef,
            "desiredCount": desired,
            "pendingCount": desired,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": stamp,
            "updatedAt": stamp,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
        }
        older = [
            {**d, "status": "ACTIVE"}
            for d in service.deployments
            if d["status"] == "PRIMARY" or d.get("rolloutState") == "FAILED"
        ][:1]
        service.deployments = [new, *older]
        service.running_count = sum(int(d.get("runningCount", 0)) for d in older)
        service.pending_count = desired
        self._event(
            f"{service.cluster_name}:{service.name}",
            f"has started {desired} tasks: (deployment {deployment_id}).",
        )

    def _ecs_update(self, deployment_id: str, **changes: Any) -> None:
        for service in self._services_with(deployment_id):
            service.deployments = [
                {**d, **changes, "updatedAt": now()} if d["id"] == deployment_id else d
                for d in service.deployments
            ]

    def _ecs_completed(self, deployment_id: str, taskdef: str, at: float) -> None:
        for service in self._services_with(deployment_id):
            key = f"{service.cluster_name}:{service.name}"
            desired = int(service.desired_count or 0)
            done = next(d for d in service.deployments if d["id"] == deployment_id)
            service.deployments = [
                {
                    **done,
                    "status": "PRIMARY",
                    "rolloutState": "COMPLETED",
                    "rolloutStateReason": f"ECS deployment {deployment_id} completed.",
                    "runningCount": desired,
                    "pendingCount": 0,
                    "updatedAt": now(),
                }
            ]
            service.running_count, service.pending_count = desired, 0
            self._event(key, f"(deployment {deployment_id}) deployment completed.")
            self._event(key, "has reached a steady state.")
            self.serving[key] = taskdef
            traffic = self.traffic.get(key)
            if traffic is not None and (traffic.production != {taskdef: 100.0} or traffic.test):
                traffic.set({taskdef: 100.0})
            self.steady_at.append((at, key, short(taskdef)))
            runner = self.emulator.runner
            if runner is not None:
                runner.completed(key, taskdef)

    def _services_with(self, deployment_id: str) -> list[Any]:
        return [
            s
            for s in self.services.values()
            if any(d["id"] == deployment_id for d in s.deployments)
        ]

    def _event(self, key: str, text: str) -> None:
        service = self._service(key)
        if service is None:
            return
        entry = {
            "id": str(uuid.uuid4()),
            "createdAt": now(),
            "message": f"(service {service.name}) {text}",
        }
        service.events = [entry, *service.events][:100]
