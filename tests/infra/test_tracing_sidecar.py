"""The ADOT collector sidecar of docs/tracing.md, added to the template, reaches the stack: a
second container, the app waiting for it, and X-Ray writes (only) on the task role. Without it,
the task role stays as it is (tests/infra/test_iam.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra import taskdef_template
from infra.errors import ConfigError
from tests.infra.probe import task_definition
from tests.support.sidecar import example, with_sidecar

# The actions of AWS's managed policy AWSXRayDaemonWriteAccess, what a collector sending traces
# needs, written here rather than taken from the construct under test:
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html
XRAY_DAEMON_WRITE_ACCESS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)


def test_the_documented_sidecar_reaches_the_stack() -> None:
    sidecar = example()["sidecar"]
    template = task_definition(with_sidecar(taskdef_template.load()), app_env="production")
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "512",
            "Memory": "1024",
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Name": "app",
                        "DependsOn": [
                            {"ContainerName": "aws-otel-collector", "Condition": "START"}
                        ],
                        "Environment": Match.array_with(
                            [
                                {
                                    "Name": "OTEL_EXPORTER_OTLP_ENDPOINT",
                                    "Value": "http://localhost:4318",
                                }
                            ]
                        ),
                    }
                ),
                Match.object_like(
                    {
                        "Name": "aws-otel-collector",
                        "Image": sidecar["image"],
                        "Essential": False,
                        "Command": sidecar["command"],
                        "ReadonlyRootFilesystem": True,
                        "User": sidecar["user"],
                        "LinuxParameters": {"Capabilities": {"Drop": ["ALL"]}},
                    }
                ),
            ],
        },
    )
    policies = template.find_resources("AWS::IAM::Policy")
    (task_policy,) = [p for p in policies.values() if "TaskRole" in str(p["Properties"]["Roles"])]
    (statement,) = task_policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == sorted(XRAY_DAEMON_WRITE_ACCESS)
    assert sorted(XRAY_DAEMON_WRITE_ACCESS) == sorted(example()["taskRoleStatement"]["Action"])


def test_without_the_sidecar_the_task_role_gets_nothing() -> None:
    policies = task_definition(taskdef_template.load()).find_resources("AWS::IAM::Policy")
    assert not [p for p in policies.values() if "TaskRole" in str(p["Properties"]["Roles"])]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["containerDefinitions"].reverse(), "must come first"),
        (
            lambda t: t["containerDefinitions"][0]["dependsOn"][0].update(containerName="nope"),
            "dependsOn must name a sidecar",
        ),
        (
            lambda t: t["containerDefinitions"][0]["dependsOn"][0].update(condition="READY"),
            "dependsOn must name a sidecar and an ECS condition",
        ),
        (
            lambda t: t["containerDefinitions"][1].update(secrets=[]),
            r"containerDefinitions\[1\]\.secrets",
        ),
    ],
    ids=["sidecar-first", "unknown-container", "unknown-condition", "sidecar-secrets"],
)
def test_a_template_the_stack_cannot_carry_is_a_config_error(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    template = with_sidecar(taskdef_template.load())
    change(template)
    with pytest.raises(ConfigError, match=message):
        taskdef_template.parse(template, {})
