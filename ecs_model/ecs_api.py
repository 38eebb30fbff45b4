"""The ECS operations moto lacks or answers too kindly, patched onto moto's response class (moto
dispatches an action to the snake_case method of that class) and backend.

https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContinueServiceDeployment.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/continue-service-deployment.html
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_model.records import COMPLETED, Revision, resource_arn, revision_id
from ecs_model.service_view import now
from ecs_model.tasks import tag_of

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator
    from ecs_model.records import ServiceDeployment

# StopServiceDeployment: "You can stop a deployment that is in any of the following states"
# (stop-service-deployment.html). PENDING/IN_PROGRESS move on; the others continue as they are.
STOPPABLE = frozenset({"PENDING", "IN_PROGRESS"})
CONTINUING = frozenset({"STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
MAX_RESULTS = 100
DEFAULT_RESULTS = 20


def service_error(code: str, message: str, *, service: str = "ecs") -> Exception:
    """An error moto serializes as `service`'s (it finds the service model from the exception
    class's module)."""
    from moto.core.exceptions import ServiceException  # noqa: PLC0415 - optional dependency

    kind = type(
        code, (ServiceException,), {"code": code, "__module__": f"moto.{service}.exceptions"}
    )
    error: Exception = kind(message)
    return error


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON: {type(value).__name__}")


def as_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, default=_epoch)


def _time(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise service_error("InvalidParameterException", "Invalid nextToken") from exc


class EcsApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.rollouts = emulator.rollouts
        # CreateService's deploymentConfiguration, which moto's backend never receives.
        self.creating = threading.local()

    def create_service(self, response: Any, original: Callable[[Any], Any]) -> Any:
        self.creating.config = response._get_param("deploymentConfiguration")
        try:
            return original(response)
        finally:
            self.creating.config = None

    # --- backend hooks (wrapping moto's) ----------------------------------------------------

    def revision(self, backend: Any, service: Any) -> Revision:
        definition = backend.describe_task_definition(service.task_definition)
        images = [
            {"containerName": str(c.get("name")), "image": str(c.get("image"))}
            for c in definition.container_definitions
        ]
        return Revision(
            arn=resource_arn("service-revision", service, revision_id()),
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            task_definition=definition.arn,
            tag=tag_of(backend, definition.arn),
            created_at=now(),
            launch_type=service.launch_type or "FARGATE",
            network=dict(getattr(service, "network_configuration", None) or {}),
            images=images,
        )

    def after_create(self, backend: Any, service: Any) -> None:
        service.task_definition = backend.describe_task_definition(service.task_definition).arn
        config = getattr(self.creating, "config", None)
        if config:
            service.deployment_configuration = dict(config)
        self.rollouts.create(service, self.revision(backend, service), initial=True)

    def after_update(self, backend: Any, service: Any, props: dict[str, Any]) -> None:
        """props: the request's parameters (snake_case), read before moto consumed them."""
        arn = backend.describe_task_definition(service.task_definition).arn
        service.task_definition = arn  # moto keeps what was passed; ECS answers with the ARN
        key = f"{service.cluster_name}:{service.name}"
        current = self.rollouts.current.get(key)
        forced = bool(props.get("force_new_deployment"))
        if forced or current is None or current.task_definition != arn:
            self.rollouts.create(service, self.revision(backend, service))
            return
        if key in self.rollouts.active:
            if props.get("deployment_configuration"):  # applies to the deployment under way
                self.rollouts.active[key].config = dict(service.deployment_configuration)
            return  # the same revision is rolling out: nothing new to deploy
        desired = int(service.desired_count or 0)  # a scale-only update: instant in the model
        primary = service.deployments[0] if service.deployments else {}
        service.deployments = [
            {**primary, "desiredCount": desired, "runningCount": desired, "pendingCount": 0}
        ]
        service.running_count, service.pending_count = desired, 0

    # --- new operations (methods of moto's response class) ------------------------------------

    def list_service_deployments(self, response: Any) -> str:
        backend = response.ecs_backend
        service = backend._get_service(
            response._get_param("cluster", "default"), response._get_param("service")
        )
        statuses = set(response._get_param("status") or [])
        created = response._get_param("createdAt") or {}
        before, after = _time(created.get("before")), _time(created.get("after"))
        limit = int(response._get_param("maxResults") or DEFAULT_RESULTS)
        if not 1 <= limit <= MAX_RESULTS:
            raise service_error(
                "InvalidParameterException", f"maxResults must be between 1 and {MAX_RESULTS}"
            )
        with self.rollouts.lock:
            found = [
                sd
                for sd in reversed(
                    self.rollouts.deployments_of(f"{service.cluster_name}:{service.name}")
                )
                if (not statuses or sd.status in statuses)
                and (before is None or sd.created_at.timestamp() < before)
                and (after is None or sd.created_at.timestamp() > after)
            ]
            start = _offset(response._get_param("nextToken"))
            page = [sd.brief() for sd in found[start : start + limit]]
        doc: dict[str, Any] = {"serviceDeployments": page}
        if start + limit < len(found):
            doc["nextToken"] = _token(start + limit)
        return as_json(doc)

    def describe_service_deployments(self, response: Any) -> str:
        arns = list(response._get_param("serviceDeploymentArns") or [])
        if not 1 <= len(arns) <= 20:
            raise service_error(
                "InvalidParameterException", "serviceDeploymentArns must list 1 to 20 ARNs"
            )
        with self.rollouts.lock:
            found = [self.rollouts.by_arn[a].describe() for a in arns if a in self.rollouts.by_arn]
        missing = [{"arn": a, "reason": "MISSING"} for a in arns if a not in self.rollouts.by_arn]
        return as_json({"serviceDeployments": found, "failures": missing})

    def describe_service_revisions(self, response: Any) -> str:
        arns = list(response._get_param("serviceRevisionArns") or [])
        if not 1 <= len(arns) <= 20:
            raise service_error(
                "InvalidParameterException", "serviceRevisionArns must list 1 to 20 ARNs"
            )
        revisions = self.rollouts.revisions
        found = [revisions[a].describe() for a in arns if a in revisions]
        missing = [{"arn": a, "reason": "MISSING"} for a in arns if a not in revisions]
        return as_json({"serviceRevisions": found, "failures": missing})

    def _deployment(self, arn: str) -> ServiceDeployment:
        """The service deployment `arn` (call with the rollouts lock held)."""
        sd = self.rollouts.by_arn.get(arn)
        if sd is None:
            raise service_error(
                "ServiceDeploymentNotFoundException",
                f"The service deployment {arn} does not exist.",
            )
        return sd

    def stop_service_deployment(self, response: Any) -> str:
        arn = str(response._get_param("serviceDeploymentArn") or "")
        stop_type = str(response._get_param("stopType") or "ROLLBACK")
        if stop_type not in ("ROLLBACK", "ABORT"):
            raise service_error("InvalidParameterException", f"Invalid stopType: {stop_type}")
        with self.rollouts.lock:
            sd = self._deployment(arn)
            self._stop(sd, stop_type)
        return as_json({"serviceDeploymentArn": arn})

    def continue_service_deployment(self, response: Any) -> str:
        """CONTINUE (the default) or ROLLBACK a PAUSE hook in AWAITING_ACTION; the deployment
        must be IN_PROGRESS (continue-service-deployment.html). The docs list the errors but
        not which one each case raises: a hook that is not awaiting action is a
        ClientException here, a bad action an InvalidParameterException."""
        arn = str(response._get_param("serviceDeploymentArn") or "")
        hook_id = str(response._get_param("hookId") or "")
        action = str(response._get_param("action") or "CONTINUE")
        if action not in ("CONTINUE", "ROLLBACK"):
            raise service_error("InvalidParameterException", f"Invalid action: {action}")
        with self.rollouts.lock:
            sd = self._deployment(arn)
            if sd.status != "IN_PROGRESS":
                raise service_error(
                    "ClientException", f"The service deployment {arn} is {sd.status}."
                )
            try:
                self.rollouts.shift.answer(sd, hook_id, action)
            except LookupError:
                raise service_error(
                    "ClientException", f"The lifecycle hook {hook_id} is not awaiting action."
                ) from None
        return as_json({"serviceDeploymentArn": arn})

    def _stop(self, sd: ServiceDeployment, stop_type: str) -> None:
        if sd.status in CONTINUING:
            return  # "continues to stop" / "continues the rollback operation"
        if sd.status not in STOPPABLE or sd.status in COMPLETED:
            raise service_error(
                "ConflictException",
                f"The service deployment {sd.arn} is {sd.status} and can no longer be stopped.",
            )
        if stop_type == "ABORT":
            sd.status, sd.updated_at = "STOP_REQUESTED", now()
            return
        previous = sd.sources[0][0] if sd.sources else None  # "the previous service revision"
        if previous is None:
            raise service_error(
                "ConflictException",
                f"The service deployment {sd.arn} has no previous service revision to roll back"
                " to.",
            )
        self.rollouts.request_rollback(sd, previous, "StopServiceDeployment requested a rollback")
