"""`taskdef.template.json`: the one source of truth for the container, also rendered by
`autopipe`. The file is read and its `${NAME}` placeholders filled by the deployer's code
(autopipe/taskdef.py: one loader for both); this module checks the template's shape and splits
it for the CDK construct (`constructs/task_definition.py`), which turns it into a task definition.

Keys the construct does not know how to carry over are an error, never silently dropped: a
field added to the template must show up in the stack too (tests/infra proves both agree).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopipe import taskdef
from autopipe.errors import ConfigError as DeployerConfigError
from infra.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT / "taskdef.template.json"
PLACEHOLDER = taskdef.PLACEHOLDER

TASK_KEYS = frozenset(
    {
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "runtimePlatform",
        "volumes",
        "containerDefinitions",
    }
)
CONTAINER_KEYS = frozenset(
    {
        "name",
        "image",
        "essential",
        "cpu",
        "memory",
        "user",
        "readonlyRootFilesystem",
        "portMappings",
        "environment",
        "secrets",
        "mountPoints",
        "healthCheck",
        "stopTimeout",
        "linuxParameters",
        "ulimits",
        "logConfiguration",
        "dependsOn",
    }
)
# What a sidecar (e.g. the ADOT collector, docs/tracing.md) may carry: no secrets, no ports.
SIDECAR_KEYS = frozenset(
    {
        "name",
        "image",
        "essential",
        "cpu",
        "memory",
        "command",
        "user",
        "readonlyRootFilesystem",
        "environment",
        "linuxParameters",
        "logConfiguration",
    }
)


@dataclass(frozen=True)
class TaskdefTemplate:
    """The template, placeholders filled, split into task, app container and sidecars."""

    task: dict[str, Any]
    container: dict[str, Any]
    sidecars: list[dict[str, Any]]

    @property
    def secret_names(self) -> list[str]:
        return [s["name"] for s in self.container.get("secrets", [])]


def load(path: Path = DEFAULT_PATH) -> dict[str, Any]:
    """The deployer's loader (autopipe/taskdef.py): both read the file the same way."""
    try:
        return taskdef.load_template(path)
    except DeployerConfigError as exc:
        raise ConfigError(str(exc)) from exc


def fill(node: Any, values: Mapping[str, str]) -> Any:
    """The deployer's `${NAME}` filling: a placeholder without a value is an error."""
    try:
        return taskdef.fill(node, values)
    except DeployerConfigError as exc:
        raise ConfigError(str(exc)) from exc


def parse(data: Mapping[str, Any], values: Mapping[str, str]) -> TaskdefTemplate:
    """Check the template's shape, then fill it. Secrets' `valueFrom` stay unfilled: the stack
    references its own secrets (the placeholder name only tells which env var is which)."""
    unknown = set(data) - TASK_KEYS
    definitions = data.get("containerDefinitions")
    if not isinstance(definitions, list) or not definitions:
        raise ConfigError("the template must define the app container first")
    container, sidecars = definitions[0], definitions[1:]
    if container.get("name") != "${CONTAINER}":
        raise ConfigError("the app container (name ${CONTAINER}) must come first in the template")
    sidecar_names = {s.get("name") for s in sidecars}
    for dependency in container.get("dependsOn", []):
        if dependency.get("containerName") not in sidecar_names or dependency.get(
            "condition"
        ) not in ("START", "COMPLETE", "SUCCESS", "HEALTHY"):
            raise ConfigError(f"dependsOn must name a sidecar and an ECS condition: {dependency}")
    unknown |= {f"containerDefinitions[0].{k}" for k in set(container) - CONTAINER_KEYS}
    for i, sidecar in enumerate(sidecars, start=1):
        unknown |= {f"containerDefinitions[{i}].{k}" for k in set(sidecar) - SIDECAR_KEYS}
    if unknown:
        raise ConfigError(
            "taskdef.template.json has keys the CDK app does not carry over yet: "
            + ", ".join(sorted(unknown))
            + " (map them in infra/constructs/task_definition.py)"
        )
    if data.get("networkMode", "awsvpc") != "awsvpc" or data.get("requiresCompatibilities") != [
        "FARGATE"
    ]:
        raise ConfigError("the template must be an awsvpc task definition for FARGATE")
    secrets = container.get("secrets", [])
    task = fill({k: v for k, v in data.items() if k != "containerDefinitions"}, values)
    filled = fill({k: v for k, v in container.items() if k != "secrets"}, values)
    if secrets:
        filled["secrets"] = copy.deepcopy(secrets)
    return TaskdefTemplate(task=task, container=filled, sidecars=fill(sidecars, values))
