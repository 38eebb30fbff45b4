"""The Fargate task definition, built from `taskdef.template.json` (the file `autopipe` renders).

Task-level settings and the container come from the template; this construct supplies only
what the template leaves as `${PLACEHOLDER}`s (roles, image, log group, region...) and the
stack's own secrets and database settings. Roles:
- execution role: pull from this repository, write to this log group, read these secrets;
- task role: none in production (the app calls no AWS API); staging: ECS Exec's ssmmessages, logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import taskdef_template
from infra.checks import acknowledge
from infra.config import Names
from infra.errors import ConfigError

# A sidecar by this name is the ADOT collector (docs/tracing.md): the task role may then write
# traces to X-Ray.
ADOT_COLLECTOR = "aws-otel-collector"
XRAY_WRITE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)


class AppTaskDefinition(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        template: Mapping[str, Any],
        names: Names,
        app_env: str,
        cpu_architecture: str,
        image_uri: str,
        image_tag: str,
        git_sha: str,
        repository: ecr.IRepository,
        log_group: logs.ILogGroup,
        secrets: Mapping[str, ecs.Secret],
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, id)
        self.execution_role = _ecs_tasks_role(self, "ExecutionRole", names.execution_role)
        self.task_role = _ecs_tasks_role(self, "TaskRole", names.task_role)
        values = {
            "FAMILY": names.family,
            "SERVICE": names.service,
            "METRICS_NAMESPACE": names.metrics_namespace,
            "CONTAINER": names.container,
            "IMAGE": image_uri,
            "IMAGE_TAG": image_tag,
            "GIT_SHA": git_sha,
            "APP_ENV": app_env,
            "REGION": Aws.REGION,
            "LOG_GROUP": log_group.log_group_name,
            "LOG_STREAM_PREFIX": names.log_stream_prefix,
            "CPU_ARCHITECTURE": cpu_architecture,
            "EXECUTION_ROLE_ARN": self.execution_role.role_arn,
            "TASK_ROLE_ARN": self.task_role.role_arn,
        }
        parsed = taskdef_template.parse(template, values)
        task, spec = parsed.task, parsed.container
        if set(parsed.secret_names) != set(secrets):
            raise ConfigError(
                f"template secrets {sorted(parsed.secret_names)} != stack secrets {sorted(secrets)}"
            )
        if (task["executionRoleArn"], task["taskRoleArn"]) != (
            self.execution_role.role_arn,
            self.task_role.role_arn,
        ):
            raise ConfigError("the template must take its roles from the placeholders")
        platform = task.get("runtimePlatform", {})
        self.definition = ecs.FargateTaskDefinition(
            self,
            "Definition",
            family=task["family"],
            cpu=int(task["cpu"]),
            memory_limit_mib=int(task["memory"]),
            execution_role=self.execution_role,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=getattr(ecs.CpuArchitecture, platform["cpuArchitecture"]),
                operating_system_family=getattr(
                    ecs.OperatingSystemFamily, platform["operatingSystemFamily"]
                ),
            ),
            volumes=[ecs.Volume(name=v["name"]) for v in task.get("volumes", [])],
        )
        self.container = self._container(spec, secrets, environment)
        sidecars = {c["name"]: self._sidecar(c) for c in parsed.sidecars}
        for dependency in spec.get("dependsOn", []):
            self.container.add_container_dependencies(
                ecs.ContainerDependency(
                    container=sidecars[dependency["containerName"]],
                    condition=ecs.ContainerDependencyCondition[dependency["condition"]],
                )
            )
        if ADOT_COLLECTOR in sidecars:
            self._allow_xray_writes()
        acknowledge(
            self.definition,
            {
                "AwsSolutions-ECS2": "Plain settings only (ENV, PORT, DB_HOST...); the password "
                "and the API keys are `secrets` read from Secrets Manager at task start."
            },
        )
        repository.grant_pull(self.execution_role)
        log_group.grant_write(self.execution_role)
        acknowledge(
            self.execution_role,
            {
                "AwsSolutions-IAM5[Resource::*]": "ecr:GetAuthorizationToken has no resource-level "
                "permissions; every other statement names this repository, log group, secrets."
            },
        )

    def _container(
        self,
        spec: Mapping[str, Any],
        secrets: Mapping[str, ecs.Secret],
        environment: Mapping[str, str],
    ) -> ecs.ContainerDefinition:
        env = {e["name"]: e["value"] for e in spec.get("environment", [])}
        env.update({k: environment[k] for k in sorted(environment)})
        health = spec["healthCheck"]
        container = self.definition.add_container(
            spec["name"],
            **self._options(spec, "LinuxParameters"),
            port_mappings=[_port(p) for p in spec.get("portMappings", [])],
            environment=env,
            secrets={name: secrets[name] for name in (s["name"] for s in spec.get("secrets", []))},
            health_check=ecs.HealthCheck(
                command=health["command"],
                interval=Duration.seconds(health["interval"]),
                timeout=Duration.seconds(health["timeout"]),
                retries=health["retries"],
                start_period=Duration.seconds(health["startPeriod"]),
            ),
            stop_timeout=Duration.seconds(spec["stopTimeout"]) if "stopTimeout" in spec else None,
        )
        for mount in spec.get("mountPoints", []):
            container.add_mount_points(
                ecs.MountPoint(
                    container_path=mount["containerPath"],
                    source_volume=mount["sourceVolume"],
                    read_only=mount.get("readOnly", False),
                )
            )
        for limit in spec.get("ulimits", []):
            container.add_ulimits(
                ecs.Ulimit(
                    name=ecs.UlimitName[limit["name"].upper()],
                    soft_limit=limit["softLimit"],
                    hard_limit=limit["hardLimit"],
                )
            )
        return container

    def _sidecar(self, spec: Mapping[str, Any]) -> ecs.ContainerDefinition:
        """A helper container from the template (docs/tracing.md: the ADOT collector)."""
        return self.definition.add_container(
            spec["name"],
            **self._options(spec, f"{spec['name']}Linux"),
            command=spec.get("command"),
            environment={e["name"]: e["value"] for e in spec.get("environment", [])},
        )

    def _options(self, spec: Mapping[str, Any], linux_id: str) -> dict[str, Any]:
        """What the app container and sidecars carry over alike."""
        log = spec.get("logConfiguration")
        return {
            "container_name": spec["name"],
            "image": ecs.ContainerImage.from_registry(spec["image"]),
            "essential": spec.get("essential", True),
            "cpu": spec.get("cpu"),
            "memory_limit_mib": spec.get("memory"),
            "user": spec.get("user"),
            "readonly_root_filesystem": spec.get("readonlyRootFilesystem"),
            "linux_parameters": self._linux(spec.get("linuxParameters"), linux_id),
            "logging": (
                ecs.GenericLogDriver(log_driver=log["logDriver"], options=log["options"])
                if log
                else None
            ),
        }

    def _allow_xray_writes(self) -> None:
        """The collector sends traces with the task role's credentials: X-Ray writes and
        sampling reads, nothing else."""
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(XRAY_WRITE_ACTIONS), resources=["*"])
        )
        acknowledge(
            self.task_role,
            {
                "AwsSolutions-IAM5[Resource::*]": "X-Ray's trace and sampling actions have no "
                "resource-level permissions."
            },
        )

    def _linux(self, spec: Mapping[str, Any] | None, id: str) -> ecs.LinuxParameters | None:
        if not spec:
            return None
        unknown = set(spec) - {"initProcessEnabled", "capabilities"}
        if unknown:
            raise ConfigError(f"linuxParameters keys not carried over yet: {sorted(unknown)}")
        linux = ecs.LinuxParameters(self, id, init_process_enabled=spec.get("initProcessEnabled"))
        capabilities = spec.get("capabilities", {})
        linux.add_capabilities(*(ecs.Capability[c] for c in capabilities.get("add", [])))
        linux.drop_capabilities(*(ecs.Capability[c] for c in capabilities.get("drop", [])))
        return linux


def _port(spec: Mapping[str, Any]) -> ecs.PortMapping:
    unknown = set(spec) - {"name", "containerPort", "protocol", "appProtocol"}
    if unknown:
        raise ConfigError(f"portMappings keys not carried over yet: {sorted(unknown)}")
    app_protocol = spec.get("appProtocol")
    return ecs.PortMapping(
        container_port=spec["containerPort"],
        protocol=ecs.Protocol[spec.get("protocol", "tcp").upper()],
        name=spec.get("name"),
        app_protocol=getattr(ecs.AppProtocol, app_protocol) if app_protocol else None,
    )


def _ecs_tasks_role(scope: Construct, id: str, name: str) -> iam.Role:
    """Assumable by ECS tasks of this account only (confused-deputy guard)."""
    return iam.Role(
        scope,
        id,
        role_name=name,
        assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com").with_conditions(
            {
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{Aws.PARTITION}:ecs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                },
            }
        ),
    )
