"""ECS calls the commands share: the service, its revisions, registering, updating."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import RegisterTaskDefinitionRequestTypeDef


def describe_service(aws: Aws, settings: Settings) -> dict[str, Any]:
    response = aws.ecs().describe_services(cluster=settings.cluster, services=[settings.service])
    for service in response.get("services", []):
        if service.get("status") == "ACTIVE":
            return cast(dict[str, Any], service)
    raise ConfigError(f"service {settings.service} not found (or not ACTIVE) in {settings.cluster}")


def describe_taskdef(aws: Aws, ref: str) -> dict[str, Any]:
    found = aws.ecs().describe_task_definition(taskDefinition=ref)["taskDefinition"]
    return cast(dict[str, Any], found)


def register(aws: Aws, taskdef: dict[str, Any]) -> str:
    params = cast("RegisterTaskDefinitionRequestTypeDef", taskdef)
    return aws.ecs().register_task_definition(**params)["taskDefinition"]["taskDefinitionArn"]


def update_service(
    aws: Aws, settings: Settings, taskdef_arn: str, *, desired_count: int | None = None
) -> None:
    if desired_count is None:
        aws.ecs().update_service(
            cluster=settings.cluster, service=settings.service, taskDefinition=taskdef_arn
        )
    else:
        aws.ecs().update_service(
            cluster=settings.cluster,
            service=settings.service,
            taskDefinition=taskdef_arn,
            desiredCount=desired_count,
        )


def revision_of(arn: str) -> int:
    try:
        return int(arn.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def short(arn: str) -> str:
    """`family:revision` from a task definition ARN."""
    return arn.rsplit("/", 1)[-1]


def revision_arn(aws: Aws, settings: Settings, spec: str) -> str:
    """`12`, `family:12` or an ARN → the ARN (checked to exist)."""
    ref = f"{settings.family}:{spec}" if spec.isdigit() else spec
    try:
        return str(describe_taskdef(aws, ref)["taskDefinitionArn"])
    except Exception as exc:
        if "ClientException" in type(exc).__name__ or "InvalidParameter" in str(exc):
            raise ConfigError(f"task definition {ref} not found") from exc
        raise


def previous_revision(aws: Aws, settings: Settings, current_arn: str) -> str | None:
    """The newest ACTIVE revision of the family older than the current one."""
    current = revision_of(current_arn)
    best: str | None = None
    paginator = aws.ecs().get_paginator("list_task_definitions")
    for page in paginator.paginate(familyPrefix=settings.family, status="ACTIVE", sort="DESC"):
        for arn in page["taskDefinitionArns"]:
            if short(arn).rsplit(":", 1)[0] != settings.family:
                continue  # a family that merely starts with ours
            older = revision_of(arn) < current
            if older and (best is None or revision_of(arn) > revision_of(best)):
                best = arn
    return best
