"""One owner for the running task definition: `autopipe deploy`. The service names its task
definition by family, a constant, so no infrastructure deploy changes the service's
TaskDefinition (or any other deployment property) unless the service itself is edited: a
change elsewhere, to the stack's own task definition, or to the recorded release it reads,
leaves the service resource byte-for-byte the same, so CloudFormation has nothing to update
on it and starts no deployment."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from infra import config
from tests.infra.conftest import Synth

SERVICE = "AWS::ECS::Service"


def _service_and_task(outdir: Path, env: config.EnvironmentConfig) -> tuple[Any, Any]:
    from infra.app import build_app  # noqa: PLC0415 - jsii starts late

    build_app(outdir=str(outdir), environments=[env], nag=False).synth()
    template = json.loads((outdir / f"{env.stack_name}.template.json").read_text())
    by_type = {r["Type"]: r for r in template["Resources"].values()}
    return by_type[SERVICE], by_type["AWS::ECS::TaskDefinition"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return _service_and_task(tmp_path_factory.mktemp("base"), config.STAGING)


@pytest.mark.parametrize(
    "change",
    [
        {"log_retention_days": 90, "db_backup_days": 7},  # resources unrelated to the service
        {"app_log_level": "DEBUG"},  # the stack's own task definition changes
    ],
)
def test_unrelated_and_task_definition_changes_leave_the_service_alone(
    tmp_path: Path, baseline: tuple[Any, Any], change: dict[str, Any]
) -> None:
    service, task = baseline
    changed_service, changed_task = _service_and_task(
        tmp_path, dataclasses.replace(config.STAGING, **change)
    )
    assert changed_service == service  # Properties, DependsOn: nothing for CloudFormation to do
    if "app_log_level" in change:
        assert changed_task != task, "the change must have reached the task definition"


@pytest.mark.parametrize("stack", ["AutoPipe-staging", "AutoPipe-production"])
def test_the_service_names_its_task_definition_by_family_only(synth: Synth, stack: str) -> None:
    (service,) = synth.resources(stack, SERVICE).values()
    # A plain string: no Ref/GetAtt, so no revision, release parameter or resolved value of the
    # stack can flow into the property that starts a deployment when it changes.
    assert service["Properties"]["TaskDefinition"] == "auto-pipe-task"
    (task_id,) = synth.resources(stack, "AWS::ECS::TaskDefinition")
    assert task_id in service["DependsOn"]  # the first revision exists before the service
    (task,) = synth.resources(stack, "AWS::ECS::TaskDefinition").values()
    assert task["Properties"]["Family"] == "auto-pipe-task"
