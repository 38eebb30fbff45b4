"""ECS calls the commands share: the service, its revisions, registering, updating."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

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
    aws: Aws,
    settings: Settings,
    taskdef_arn: str,
    *,
    desired_count: int | None = None,
    deployment_configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """UpdateService; returns the service as the response gives it. Its
    `currentServiceDeployment` is the ARN of the service deployment this call started (the
    response to the write itself, so not subject to the eventual consistency of later reads:
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html)."""
    params: dict[str, Any] = {
        "cluster": settings.cluster,
        "service": settings.service,
        "taskDefinition": taskdef_arn,
    }
    if desired_count is not None:
        params["desiredCount"] = desired_count
    if deployment_configuration is not None:
        params["deploymentConfiguration"] = deployment_configuration
    return cast(dict[str, Any], aws.ecs().update_service(**params)["service"])


def describe_deployment(aws: Aws, arn: str) -> dict[str, Any] | None:
    """One service deployment, or None while ECS does not list it yet (a read right after the
    write that created it may not see it: eventual consistency)."""
    found = aws.ecs().describe_service_deployments(serviceDeploymentArns=[arn])
    for deployment in found.get("serviceDeployments", []):
        if deployment.get("serviceDeploymentArn") == arn:
            return cast(dict[str, Any], deployment)
    return None


def stop_deployment(aws: Aws, arn: str) -> None:
    """Ask ECS to roll the deployment back to the service revision it replaced
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html)."""
    aws.ecs().stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")


def continue_deployment(
    aws: Aws, arn: str, hook_id: str, action: Literal["CONTINUE", "ROLLBACK"]
) -> None:
    """Answer a PAUSE lifecycle hook: CONTINUE or ROLLBACK
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContinueServiceDeployment.html)."""
    aws.ecs().continue_service_deployment(
        serviceDeploymentArn=arn,
        hookId=hook_id,
        action=action,
    )


def revision_taskdef(aws: Aws, revision_arn: str) -> str:
    """The task definition of a service revision."""
    found = aws.ecs().describe_service_revisions(serviceRevisionArns=[revision_arn])
    for revision in found.get("serviceRevisions", []):
        return str(revision.get("taskDefinition", ""))
    return ""


FAILED_TAG = "autopipe:failed"


def mark_failed(aws: Aws, taskdef_arn: str, reason: str) -> None:
    """Tag a revision that failed its deploy and deregister it, so nothing picks it by
    accident: no default rollback (the tag), and no `family` reference either — CloudFormation
    names the service's task definition by family, which ECS resolves to the latest ACTIVE
    revision (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html),
    so a failed revision left ACTIVE would be what the next stack update rolls out."""
    aws.ecs().tag_resource(
        resourceArn=taskdef_arn, tags=[{"key": FAILED_TAG, "value": reason[:256] or "failed"}]
    )
    aws.ecs().deregister_task_definition(taskDefinition=taskdef_arn)


def is_marked_failed(aws: Aws, taskdef_arn: str) -> bool:
    found = aws.ecs().list_tags_for_resource(resourceArn=taskdef_arn)
    return any(t.get("key") == FAILED_TAG for t in found.get("tags", []))


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
