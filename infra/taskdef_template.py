"""`taskdef.template.json`: the one source of truth for the container, also rendered by
`autopipe`. This module reads it and fills its `${NAME}` placeholders; the CDK construct
(`constructs/task_definition.py`) turns the result into a task definition.

Keys the construct does not know how to carry over are an error, never silently dropped: a
field added to the template must show up in the stack too (tests/infra proves both agree).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT / "taskdef.template.json"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

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


def placeholders(node: Any) -> set[str]:
    if isinstance(node, str):
        return set(PLACEHOLDER.findall(node))
    if isinstance(node, list):
        return set().union(*(placeholders(item) for item in node)) if node else set()
    if isinstance(node, dict):
        return placeholders(list(node.values()))
    return set()


def load(path: Path = DEFAULT_PATH) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"task definition template not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def fill(node: Any, values: Mapping[str, str]) -> Any:
    """Replace every `${NAME}`; a placeholder without a value is an error (as in autopipe)."""
    missing = placeholders(node) - set(values)
    if missing:
        raise ConfigError(f"template placeholders without a value: {', '.join(sorted(missing))}")

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return PLACEHOLDER.sub(lambda m: values[m.group(1)], item)
        if isinstance(item, list):
            return [walk(i) for i in item]
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        return item

    return walk(copy.deepcopy(node))


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
