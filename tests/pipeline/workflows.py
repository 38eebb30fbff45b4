"""Reading the workflows: YAML as GitHub reads it, and the pieces the tests look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
NAMES = ("ci.yml", "deploy.yml")
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"


class _GitHubLoader(yaml.SafeLoader):
    """YAML 1.2 booleans only: PyYAML's 1.1 rules would read the `on:` key as True."""


_GitHubLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GitHubLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Workflow:
    name: str
    text: str
    data: dict[str, Any]

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs: dict[str, dict[str, Any]] = self.data["jobs"]
        return jobs

    @property
    def triggers(self) -> dict[str, Any]:
        on: dict[str, Any] = self.data["on"]
        return on


@dataclass(frozen=True)
class Step:
    workflow: str
    job: str
    index: int
    data: dict[str, Any]

    @property
    def where(self) -> str:
        label = self.data.get("name") or self.data.get("uses") or self.data.get("run", "")
        return f"{self.workflow} > {self.job} > step {self.index} ({str(label)[:60]})"

    @property
    def uses(self) -> str:
        return str(self.data.get("uses", ""))

    @property
    def action(self) -> str:
        """`owner/name` of the action, without the ref."""
        return self.uses.split("@", 1)[0]

    @property
    def with_(self) -> dict[str, Any]:
        inputs: dict[str, Any] = self.data.get("with") or {}
        return inputs

    @property
    def env(self) -> dict[str, Any]:
        env: dict[str, Any] = self.data.get("env") or {}
        return env


@cache
def load(name: str) -> Workflow:
    text = (WORKFLOWS_DIR / name).read_text()
    data = yaml.load(text, Loader=_GitHubLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(data, dict), f"{name}: not a mapping"
    return Workflow(name, text, data)


def all_workflows() -> list[Workflow]:
    return [load(name) for name in NAMES]


def steps(workflow: Workflow, job_id: str | None = None) -> Iterator[Step]:
    for jid, job in workflow.jobs.items():
        if job_id is not None and jid != job_id:
            continue
        for index, step in enumerate(job.get("steps") or [], start=1):
            yield Step(workflow.name, jid, index, step)


def all_steps() -> Iterator[Step]:
    for workflow in all_workflows():
        yield from steps(workflow)


def assumes_aws_role(job: dict[str, Any]) -> bool:
    return any(
        str(step.get("uses", "")).startswith(f"{AWS_CREDENTIALS_ACTION}@")
        for step in job.get("steps") or []
    )


def one_step(workflow: Workflow, job_id: str, action: str) -> Step:
    found = [s for s in steps(workflow, job_id) if s.action == action]
    assert len(found) == 1, f"{workflow.name} > {job_id}: expected one {action} step"
    return found[0]


def run_steps(workflow: Workflow, job_id: str) -> list[str]:
    return [str(s.data["run"]).strip() for s in steps(workflow, job_id) if "run" in s.data]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", text, flags=re.MULTILINE))
