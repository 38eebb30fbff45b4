"""`taskdef.template.json` is the one source of the container definition: the synthesized task
definition is the template with the stack's values in its placeholders, plus only the stack's
database settings; a change to the template shows up in the stack; keys the CDK app does not
carry over are an error, never silently dropped."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra import taskdef_template
from infra.errors import ConfigError
from tests.infra.cfn import resolve
from tests.infra.conftest import Synth
from tests.infra.probe import task_definition

# The database settings, the TLS ones included (test_database_tls_settings.py).
STACK_ADDED_ENV = {
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "LOG_LEVEL",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "TRUSTED_PROXIES",
}
VERBATIM = {"options"}  # map keys that are data, not property names


def pascal(node: Any) -> Any:
    """ECS API (camelCase) -> CloudFormation (PascalCase) property names."""
    if isinstance(node, list):
        return [pascal(item) for item in node]
    if isinstance(node, dict):
        return {k[0].upper() + k[1:]: v if k in VERBATIM else pascal(v) for k, v in node.items()}
    return node


def partial_fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return taskdef_template.PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
    if isinstance(node, list):
        return [partial_fill(item, values) for item in node]
    if isinstance(node, dict):
        return {k: partial_fill(v, values) for k, v in node.items()}
    return node


def synthesized(synth: Synth, stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stack's task definition with its references written back as placeholders."""
    template = synth.template(stack)
    refs = {
        k: "${"
        + {"image": "IMAGE", "image-tag": "IMAGE_TAG", "git-sha": "GIT_SHA"}[
            p["Default"].rsplit("/", 1)[1]
        ]
        + "}"
        for k, p in template["Parameters"].items()
        if "/release/" in str(p.get("Default"))
    }
    for logical, resource in template["Resources"].items():
        if resource["Properties"].get("LogGroupName") == "/ecs/auto-pipe-app":
            refs[logical] = "${LOG_GROUP}"
        name = resource["Properties"].get("RoleName")
        if name in ("auto-pipe-execution-role", "auto-pipe-task-role"):
            refs[logical] = "${EXECUTION_ROLE_ARN}" if "execution" in name else "${TASK_ROLE_ARN}"
    task = resolve(synth.one(stack, "AWS::ECS::TaskDefinition"), refs)
    (container,) = task.pop("ContainerDefinitions")
    return task, container


@pytest.mark.parametrize(
    ("stack", "app_env"), [("AutoPipe-staging", "staging"), ("AutoPipe-production", "production")]
)
def test_the_task_definition_is_the_template(synth: Synth, stack: str, app_env: str) -> None:
    source = taskdef_template.load()
    expected = pascal(
        partial_fill(
            source,
            {
                "FAMILY": "auto-pipe-task",
                "SERVICE": "auto-pipe-service",
                "METRICS_NAMESPACE": "AutoPipe",
                "CONTAINER": "app",
                "APP_ENV": app_env,
                "REGION": "eu-west-1",
                "LOG_STREAM_PREFIX": "app",
                "CPU_ARCHITECTURE": "X86_64",
            },
        )
    )
    (want,) = expected.pop("ContainerDefinitions")
    task, got = synthesized(synth, stack)
    for key, value in expected.items():
        assert task[key] == value, key
    # The stack adds its database settings after the template's variables, nothing else.
    n = len(want["Environment"])
    assert got["Environment"][:n] == want.pop("Environment")
    assert {e["Name"] for e in got.pop("Environment")[n:]} == STACK_ADDED_ENV
    # Secrets: the template names the variables, the stack points them at its own secrets.
    assert [s["Name"] for s in got.pop("Secrets")] == [s["Name"] for s in want.pop("Secrets")]
    assert got == want


def test_a_template_change_reaches_the_stack() -> None:

    changed = copy.deepcopy(taskdef_template.load())
    container = changed["containerDefinitions"][0]
    container["stopTimeout"] = 25
    container["healthCheck"]["retries"] = 5
    container["environment"].append({"name": "FEATURE_FLAG", "value": "on"})
    changed["memory"] = "1024"
    task_definition(changed).has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Memory": "1024",
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Image": "registry/probe:1",
                        "StopTimeout": 25,
                        "HealthCheck": Match.object_like({"Retries": 5}),
                        "Environment": Match.array_with([{"Name": "FEATURE_FLAG", "Value": "on"}]),
                    }
                )
            ],
        },
    )


def test_keys_the_app_does_not_carry_over_are_an_error() -> None:
    changed = copy.deepcopy(taskdef_template.load())
    changed["containerDefinitions"][0]["firelensConfiguration"] = {"type": "fluentbit"}
    changed["pidMode"] = "task"
    with pytest.raises(ConfigError, match=r"firelensConfiguration.*|pidMode"):
        taskdef_template.parse(changed, {})


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match="without a value: CPU_ARCHITECTURE"):
        taskdef_template.parse(taskdef_template.load(), {"FAMILY": "x"})


def test_the_template_is_json_the_deployer_also_reads() -> None:
    source = json.loads(taskdef_template.DEFAULT_PATH.read_text())
    assert source["containerDefinitions"][0]["image"] == "${IMAGE}"
