"""The task-definition construct alone in a throwaway stack, for tests that feed it a changed
template without synthesizing the whole app."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as sm
from aws_cdk.assertions import Template

from infra.config import Names
from infra.constructs.task_definition import AppTaskDefinition


def task_definition(
    template: dict[str, Any], *, app_env: str = "staging", cpu_architecture: str = "ARM64"
) -> Template:
    stack = Stack(App(), "Probe")
    secret = sm.Secret.from_secret_name_v2(stack, "S", "probe")
    AppTaskDefinition(
        stack,
        "Task",
        template=template,
        names=Names("probe"),
        app_env=app_env,
        cpu_architecture=cpu_architecture,
        image_uri="registry/probe:1",
        image_tag="1",
        git_sha="abc",
        repository=ecr.Repository.from_repository_name(stack, "R", "probe"),
        log_group=logs.LogGroup.from_log_group_name(stack, "L", "/probe"),
        secrets={n: ecs.Secret.from_secrets_manager(secret) for n in ("API_KEYS", "DB_PASSWORD")},
        environment={},
    )
    return Template.from_stack(stack)
