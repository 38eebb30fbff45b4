"""Names in the config → the ARNs and values a task definition needs.

`AwsResolver` asks AWS (STS for the account, Secrets Manager for full secret ARNs, SSM for
`ssm:/name` environment values such as the database address the stack publishes);
`OfflineResolver` makes plausible ARNs with no network, for `autopipe local`.
"""

from __future__ import annotations

from typing import Any, Protocol

from autopipe import taskdef
from autopipe.aws import Aws, error_code
from autopipe.config import Settings
from autopipe.errors import ConfigError

OFFLINE_ACCOUNT = "000000000000"


SSM_PREFIX = "ssm:"


class Resolver(Protocol):
    def account_id(self) -> str: ...

    def secret_arn(self, name: str) -> str: ...

    def parameter(self, name: str) -> str: ...


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


class AwsResolver:
    def __init__(self, aws: Aws, settings: Settings) -> None:
        self._aws = aws
        self._settings = settings

    def account_id(self) -> str:
        return self._settings.account_id or self._aws.account_id()

    def secret_arn(self, name: str) -> str:
        try:
            return self._aws.secrets().describe_secret(SecretId=name)["ARN"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise ConfigError(f"secret {name!r} not found in Secrets Manager") from exc
            raise

    def parameter(self, name: str) -> str:
        try:
            value: str = self._aws.ssm().get_parameter(Name=name)["Parameter"]["Value"]
        except Exception as exc:
            if error_code(exc) == "ParameterNotFound":
                raise ConfigError(
                    f"SSM parameter {name!r} not found (the service stack writes it: deploy "
                    "AutoPipe-<env> first)"
                ) from exc
            raise
        return value


class OfflineResolver:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def account_id(self) -> str:
        return self._settings.account_id or OFFLINE_ACCOUNT

    def secret_arn(self, name: str) -> str:
        region = self._settings.region
        return f"arn:{partition(region)}:secretsmanager:{region}:{self.account_id()}:secret:{name}"

    def parameter(self, name: str) -> str:
        # No AWS to ask: empty, which the app reads as unset (a local run brings its own
        # database, e.g. --set-env DATABASE_URL=...).
        return ""


def value_from(ref: str, resolver: Resolver) -> str:
    """`name`, `name:json-key` or a full ARN (used as given) → an ECS `valueFrom`."""
    if ref.startswith("arn:"):
        return ref
    name, _, key = ref.partition(":")
    arn = resolver.secret_arn(name)
    return f"{arn}:{key}::" if key else arn


def secret_id(value_from_arn: str) -> str:
    """The secret's ARN without an ECS `:json-key:stage:version` suffix."""
    return ":".join(value_from_arn.split(":")[:7])


def role_arn(ref: str, account: str, region: str) -> str:
    return ref if ref.startswith("arn:") else f"arn:{partition(region)}:iam::{account}:role/{ref}"


def render(
    settings: Settings,
    resolver: Resolver,
    *,
    image_uri: str,
    image_tag: str,
    git_sha: str,
    extra_environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    account = resolver.account_id()
    secrets = {name: value_from(ref, resolver) for name, ref in settings.secrets.items()}
    values = {
        "FAMILY": settings.family,
        "SERVICE": settings.service,
        "METRICS_NAMESPACE": settings.metrics_namespace,
        "CONTAINER": settings.container,
        "IMAGE": image_uri,
        "IMAGE_TAG": image_tag,
        "GIT_SHA": git_sha,
        "APP_ENV": settings.app_env,
        "REGION": settings.region,
        "LOG_GROUP": settings.log_group,
        "LOG_STREAM_PREFIX": settings.log_stream_prefix,
        "CPU_ARCHITECTURE": settings.cpu_architecture,
        "EXECUTION_ROLE_ARN": role_arn(settings.execution_role, account, settings.region),
        "TASK_ROLE_ARN": role_arn(settings.task_role, account, settings.region),
        **{f"SECRET_{name}": arn for name, arn in secrets.items()},
    }
    environment = {
        name: resolver.parameter(value.removeprefix(SSM_PREFIX))
        if value.startswith(SSM_PREFIX)
        else value
        for name, value in {**settings.environment, **(extra_environment or {})}.items()
    }
    return taskdef.render(
        taskdef.load_template(settings.template_path),
        values,
        container=settings.container,
        environment=environment,
        secrets=secrets,
    )
