"""The task definition: `taskdef.template.json` filled in, checked against botocore's model of
`RegisterTaskDefinition`, and normalised for comparison with what ECS returns."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

from autopipe.errors import ConfigError

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# What DescribeTaskDefinition returns that RegisterTaskDefinition does not take.
READ_ONLY_KEYS = (
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt",
)  # fmt: skip
_input_shape: Any = None


def load_template(path: Path) -> dict[str, Any]:
    """The template as JSON: the one loader (the CDK app's infra/taskdef_template.py uses it)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"task definition template not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def placeholders(node: Any) -> set[str]:
    """Every `${NAME}` in a template or a part of one."""
    if isinstance(node, str):
        return set(PLACEHOLDER.findall(node))
    if isinstance(node, list):
        return set().union(*(placeholders(item) for item in node)) if node else set()
    if isinstance(node, dict):
        return placeholders(list(node.values()))
    return set()


def fill(node: Any, values: Mapping[str, str]) -> Any:
    """A copy of `node` with every `${NAME}` replaced; a placeholder without a value is an
    error, never an empty string."""
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


def render(
    template: Mapping[str, Any],
    values: Mapping[str, str],
    *,
    container: str,
    environment: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fill `${NAME}` placeholders; merge extra environment and secrets into `container`.

    Extra variables replace same-named template entries; new ones are appended sorted, so the
    output is stable. A placeholder without a value is an error, never an empty string.
    """
    taskdef: dict[str, Any] = fill(dict(template), values)
    target = container_of(taskdef, container)
    target["environment"] = _merge(target.get("environment", []), environment or {}, "value")
    target["secrets"] = _merge(target.get("secrets", []), secrets or {}, "valueFrom")
    if not target["secrets"]:
        del target["secrets"]
    validate(taskdef)
    return taskdef


def _merge(items: list[dict[str, str]], extra: Mapping[str, str], key: str) -> list[dict[str, str]]:
    merged = [{"name": i["name"], key: extra.get(i["name"], i[key])} for i in items]
    known = {i["name"] for i in items}
    merged += [{"name": n, key: extra[n]} for n in sorted(extra) if n not in known]
    return merged


def container_of(taskdef: Mapping[str, Any], name: str) -> dict[str, Any]:
    for definition in taskdef.get("containerDefinitions", []):
        if definition.get("name") == name:
            return definition  # type: ignore[no-any-return]
    raise ConfigError(f"the task definition has no container named {name!r}")


def env_of(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def validate(taskdef: Mapping[str, Any]) -> None:
    """Raise ConfigError unless `taskdef` is a valid RegisterTaskDefinition input."""
    global _input_shape  # noqa: PLW0603 - the model takes ~50 ms to load; load it once
    if _input_shape is None:
        model = botocore.session.get_session().get_service_model("ecs")
        _input_shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(dict(taskdef), _input_shape)
    if report.has_errors():
        raise ConfigError(
            f"not a valid register-task-definition input:\n{report.generate_report()}"
        )


def from_live(described: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeTaskDefinition result as RegisterTaskDefinition input."""
    return {k: copy.deepcopy(v) for k, v in described.items() if k not in READ_ONLY_KEYS}


def normalize(taskdef: Mapping[str, Any]) -> dict[str, Any]:
    """Drop what ECS fills in by default and sort name-keyed lists, so a rendered and a live
    task definition compare equal when they would run the same."""
    out: dict[str, Any] = _prune(from_live(taskdef))
    for definition in out.get("containerDefinitions", []):
        for key in ("environment", "secrets"):
            if key in definition:
                definition[key] = sorted(definition[key], key=lambda e: e["name"])
        for mapping in definition.get("portMappings", []):
            if out.get("networkMode") == "awsvpc" and mapping.get("hostPort") == mapping.get(
                "containerPort"
            ):
                mapping.pop("hostPort", None)
            if mapping.get("protocol") == "tcp":
                mapping.pop("protocol")
    return out


def _prune(node: Any) -> Any:
    if isinstance(node, dict):
        pruned = {k: _prune(v) for k, v in node.items()}
        return {k: v for k, v in pruned.items() if v not in ([], {}, None)}
    if isinstance(node, list):
        return [_prune(item) for item in node]
    return node


def dumps(taskdef: Mapping[str, Any]) -> str:
    return json.dumps(taskdef, indent=2, sort_keys=False) + "\n"
