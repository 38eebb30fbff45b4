"""Service deployments and service revisions: the records ECS keeps for every deployment of a
service, in the shapes `DescribeServiceDeployments`, `ListServiceDeployments` and
`DescribeServiceRevisions` answer with.

https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceRevision.html
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html
# ("There are three service deployment stages": pending, ongoing, completed).
ONGOING = frozenset(
    {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
)
COMPLETED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
STATUSES = ONGOING | COMPLETED


def circuit_breaker_threshold(desired: int) -> int:
    """0.5 x the desired task count, never below 3 nor above 200.

    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    (the docs do not say how a half task rounds: up, so 7 tasks tolerate 4 failures)."""
    return min(200, max(3, math.ceil(0.5 * desired)))


def new_id() -> str:
    """A 22-character id like the ones in the API reference's examples."""
    return secrets.token_urlsafe(16)[:22]


@dataclass
class Revision:
    """A service revision: the configuration a deployment rolls out (ServiceRevision)."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    tag: str
    created_at: datetime
    launch_type: str = "FARGATE"
    network: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "launchType": self.launch_type,
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "containerImages": self.images,
            "guardDutyEnabled": False,
            "createdAt": self.created_at,
        }
        if self.network:
            doc["networkConfiguration"] = self.network
        return doc


@dataclass
class HookRun:
    """One hook at one stage of one deployment (DeploymentLifecycleHookDetail).
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHookDetail.html"""

    hook_id: str
    target_type: str  # AWS_LAMBDA | PAUSE
    stage: str
    target_arn: str = ""
    status: str = "IN_PROGRESS"  # AWAITING_ACTION | IN_PROGRESS | SUCCEEDED | FAILED | TIMED_OUT
    timeout_action: str = "ROLLBACK"
    expires_at: datetime | None = None
    expires: float = math.inf  # monotonic
    next_call: float = 0.0  # monotonic: a Lambda hook answering IN_PROGRESS is called again
    calls: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "hookId": self.hook_id,
            "targetType": self.target_type,
            "status": self.status,
            "timeoutAction": self.timeout_action,
            "expiresAt": self.expires_at,
        }
        if self.target_arn:
            doc["targetArn"] = self.target_arn
        return {k: v for k, v in doc.items() if v is not None}


@dataclass
class ServiceDeployment:
    """One deployment of a service, from its creation to a completed state.

    `outcome` is what the current phase (the roll-out, then the roll-back if any) will do:
    complete | fail | hang, from the policy of the revision's image tag; a test may change it
    while the deployment runs."""

    arn: str
    key: str  # cluster:service
    service_arn: str
    cluster_arn: str
    target: Revision
    sources: list[tuple[Revision, int]]
    requested: int
    config: dict[str, Any]
    created_at: datetime
    ecs_id: str  # the deployments[] entry of DescribeServices that runs the target
    outcome: str = "complete"
    status: str = "PENDING"
    status_reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime | None = None
    running: int = 0
    pending: int = 0
    failure_count: int = 0
    rollback_failures: int = 0
    triggered: list[str] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    rollback_revision: Revision | None = None
    rollback_ecs_id: str = ""
    # engine bookkeeping (monotonic seconds)
    phase_started: float = 0.0
    steady_since: float | None = None
    next_alarm_check: float = 0.0
    notified: bool = False
    runner_started: bool = False
    # blue/green, canary, linear (traffic.py): the lifecycle stage, the hooks it ran
    lifecycle_stage: str = ""
    hooks: list[HookRun] = field(default_factory=list)
    stage_started: float = 0.0
    shifted_at: float = 0.0  # when production traffic last moved (canary/linear waits)

    @property
    def strategy(self) -> str:
        return str(self.config.get("strategy") or "ROLLING")

    @property
    def shifts_traffic(self) -> bool:
        return self.strategy != "ROLLING"

    @property
    def tag(self) -> str:
        return self.target.tag

    @property
    def taskdef_arn(self) -> str:
        return self.target.task_definition

    @property
    def breaker(self) -> dict[str, Any]:
        return dict(self.config.get("deploymentCircuitBreaker") or {})

    @property
    def alarm_config(self) -> dict[str, Any]:
        return dict(self.config.get("alarms") or {})

    @property
    def threshold(self) -> int:
        return circuit_breaker_threshold(self.requested)

    def ongoing(self) -> bool:
        return self.status in ONGOING

    def brief(self) -> dict[str, Any]:
        """ServiceDeploymentBrief, as ListServiceDeployments answers."""
        doc = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "targetServiceRevisionArn": self.target.arn,
            "status": self.status,
            "statusReason": self.status_reason,
        }
        return {k: v for k, v in doc.items() if v not in (None, "")}

    def describe(self) -> dict[str, Any]:
        """ServiceDeployment, as DescribeServiceDeployments answers."""
        breaker = self.breaker
        alarms = self.alarm_config
        done = not self.ongoing()
        if not breaker.get("enable"):
            breaker_status = "DISABLED"
        elif self.failure_count >= self.threshold:
            breaker_status = "TRIGGERED"
        else:
            breaker_status = "MONITORING_COMPLETE" if done else "MONITORING"
        if not alarms.get("enable"):
            alarm_status = "DISABLED"
        elif self.triggered:
            alarm_status = "TRIGGERED"
        else:
            alarm_status = "MONITORING_COMPLETE" if done else "MONITORING"
        doc: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "stoppedAt": self.stopped_at,
            "updatedAt": self.updated_at or self.created_at,
            "sourceServiceRevisions": [
                {
                    "arn": rev.arn,
                    "requestedTaskCount": running,
                    "runningTaskCount": running,
                    "pendingTaskCount": 0,
                }
                for rev, running in self.sources
            ],
            "targetServiceRevision": {
                "arn": self.target.arn,
                "requestedTaskCount": self.requested,
                "runningTaskCount": self.running,
                "pendingTaskCount": self.pending,
            },
            "status": self.status,
            "statusReason": self.status_reason,
            "deploymentConfiguration": self.config,
            "deploymentCircuitBreaker": {
                "status": breaker_status,
                "failureCount": self.failure_count,
                "threshold": self.threshold,
            },
            "alarms": {
                "status": alarm_status,
                "alarmNames": list(alarms.get("alarmNames", [])),
                "triggeredAlarmNames": list(self.triggered),
            },
        }
        if self.rollback is not None:
            doc["rollback"] = self.rollback
        if self.lifecycle_stage:
            doc["lifecycleStage"] = self.lifecycle_stage
        if self.hooks:
            doc["lifecycleHookDetails"] = [h.describe() for h in self.hooks]
        return {k: v for k, v in doc.items() if v not in (None, "")}


def resource_arn(kind: str, service: Any, resource_id: str) -> str:
    """`arn:aws:ecs:<region>:<account>:<kind>/<cluster>/<service>/<id>` for a moto service."""
    region, account = service.region_name, service._account_id
    return (
        f"arn:aws:ecs:{region}:{account}:{kind}/{service.cluster_name}/{service.name}/{resource_id}"
    )


def ecs_deployment_id() -> str:
    return f"ecs-svc/{random.randrange(10**18, 10**19)}"  # noqa: S311 - an id, not a secret


def revision_id() -> str:
    return str(random.randrange(10**18, 10**19))  # noqa: S311 - an id, not a secret
