"""A fork renames the project in one place: a copy of the repository with one line of
`autopipe.toml` changed (`project = "acme-shop"`) synthesizes stacks, renders task definitions and
runs the Makefile's names with every physical name changed and the old name nowhere.

The copy is synthesized once (the CLI's way, `python -m infra.app` with cdk.json's context) and
rendered through the deployer's own code path with the offline resolver (no AWS to ask).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import ROOT

OLD = re.compile(r"auto[-_]?pipe", re.IGNORECASE)
# Where the tool's own name (the `autopipe` package and CLI, its settings and its test-traffic
# header, not a resource) may appear.
TOOL_NAME = re.compile(r"\bautopipe(?=[ .,/)`:])|\bAUTOPIPE_|\bX-Autopipe-")
NEW, NEW_TITLE = "acme-shop", "AcmeShop"
ENVS = ("staging", "production", "rehearsal")
RENDER = """
import dataclasses, json, sys
from autopipe.config import load_settings
from autopipe.resolve import OfflineResolver, render
out = {}
for env in sys.argv[1:]:
    s = load_settings(config="autopipe.toml", env=env, environ={})
    image = f"000000000000.dkr.ecr.{s.region}.amazonaws.com/{s.repository}@sha256:{'a' * 64}"
    taskdef = render(s, OfflineResolver(s), image_uri=image, image_tag="t1", git_sha="s1")
    out[env] = {"settings": dataclasses.asdict(s), "taskdef": taskdef}
json.dump(out, sys.stdout)
"""


@dataclass(frozen=True)
class Fork:
    root: Path
    templates: dict[str, dict[str, Any]]
    rendered: dict[str, dict[str, Any]]
    names: dict[str, str]  # `make names`
    compose: str  # `make -n up`


def run(args: list[str], cwd: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AUTOPIPE_"))}
    result = subprocess.run(
        args, cwd=cwd, env={**environ, **env}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def copy_repository(target: Path) -> None:
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def fork(tmp_path_factory: pytest.TempPathFactory) -> Fork:
    root = tmp_path_factory.mktemp("fork")
    copy_repository(root)
    config = root / "autopipe.toml"
    before = config.read_text().splitlines()
    after = [re.sub(r'^project = ".*"', f'project = "{NEW}"', line) for line in before]
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1  # the one edit
    config.write_text("\n".join(after) + "\n")

    # The copy's packages, not the worktree's (cwd comes first on sys.path with -c / -m).
    code = (
        "import infra.app as a, pathlib, sys;"
        f"assert pathlib.Path(a.__file__).is_relative_to({str(root)!r}), a.__file__;"
        "a.main()"
    )
    outdir = root / "cdk.out"
    run([sys.executable, "-c", code], root, CDK_OUTDIR=str(outdir))
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    rendered = json.loads(run([sys.executable, "-c", RENDER, *ENVS], root))
    names_out = run(["make", "-s", "names"], root)
    names = dict(line.split("=", 1) for line in names_out.splitlines())
    compose = run(["make", "-n", "up", "down"], root)
    return Fork(root, templates, rendered, names, compose)


def old_names(text: str) -> list[str]:
    return [m.group(0) for m in OLD.finditer(TOOL_NAME.sub("", text))]


def test_the_stacks_carry_the_new_name(fork: Fork) -> None:
    assert set(fork.templates) == {
        f"{NEW_TITLE}-staging-Bootstrap", f"{NEW_TITLE}-staging",
        f"{NEW_TITLE}-production-Bootstrap", f"{NEW_TITLE}-production",
    }  # fmt: skip
    for stack, template in fork.templates.items():
        assert old_names(json.dumps(template)) == [], stack


def properties(template: dict[str, Any], type_: str, key: str) -> set[str]:
    found = template["Resources"].values()
    return {
        json.dumps(r["Properties"][key])
        for r in found
        if r["Type"] == type_ and key in r.get("Properties", {})
    }


@pytest.mark.parametrize("env", ["staging", "production"])
def test_every_physical_name_in_the_stacks_changed(fork: Fork, env: str) -> None:
    service = fork.templates[f"{NEW_TITLE}-{env}"]
    bootstrap = fork.templates[f"{NEW_TITLE}-{env}-Bootstrap"]
    prefix = f"{NEW}-{env}"

    def named(type_: str, key: str, template: dict[str, Any] = service) -> set[str]:
        return {json.loads(v) for v in properties(template, type_, key) if v.startswith('"')}

    assert named("AWS::ECR::Repository", "RepositoryName", bootstrap) == {"acme-shop-api"}
    assert named("AWS::IAM::Role", "RoleName", bootstrap) == {"acme-shop-github-deploy"}
    assert named("AWS::ECS::Cluster", "ClusterName") == {"acme-shop-cluster"}
    assert named("AWS::ECS::Service", "ServiceName") == {"acme-shop-service"}
    assert named("AWS::ECS::TaskDefinition", "Family") == {"acme-shop-task"}
    assert "/ecs/acme-shop-app" in named("AWS::Logs::LogGroup", "LogGroupName")
    assert named("AWS::IAM::Role", "RoleName") >= {
        "acme-shop-execution-role", "acme-shop-task-role",
    }  # fmt: skip
    assert named("AWS::DynamoDB::GlobalTable", "TableName") == {"acme-shop-locks"}
    assert named("AWS::SecretsManager::Secret", "Name") == {
        f"acme-shop/{env}/api-keys", f"acme-shop/{env}/db", f"acme-shop/{env}/test-traffic",
    }  # fmt: skip
    assert named("AWS::KMS::Alias", "AliasName") == {f"alias/{prefix}"}
    assert named("AWS::RDS::DBInstance", "DBInstanceIdentifier") == {f"{prefix}-db"}
    assert named("AWS::CloudWatch::Dashboard", "DashboardName") == {prefix}
    ssm = named("AWS::SSM::Parameter", "Name")
    assert ssm
    assert all(name.startswith(f"/acme-shop/{env}/service/") for name in ssm)
    release = [p["Default"] for p in service["Parameters"].values() if "/release/" in str(p)]
    assert release
    assert all(str(name).startswith(f"/acme-shop/{env}/release/") for name in release)
    alarms = named("AWS::CloudWatch::Alarm", "AlarmName")
    assert alarms
    assert all(name.startswith(f"{prefix}-") for name in alarms)
    namespaces = {
        m["Namespace"]
        for r in service["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for m in [r["Properties"], *(q.get("MetricStat", {}).get("Metric", {})
                                      for q in r["Properties"].get("Metrics", []))]
        if m.get("Namespace") and not str(m["Namespace"]).startswith("AWS/")
    }  # fmt: skip
    assert namespaces == {NEW_TITLE}
    (task,) = [r for r in service["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    (container,) = task["Properties"]["ContainerDefinitions"]
    env_vars = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env_vars["SERVICE_NAME"] == "acme-shop-service"
    assert env_vars["METRICS_NAMESPACE"] == NEW_TITLE


@pytest.mark.parametrize("env", ENVS)
def test_the_rendered_task_definition_and_settings_changed(fork: Fork, env: str) -> None:
    settings, taskdef = fork.rendered[env]["settings"], fork.rendered[env]["taskdef"]
    assert old_names(json.dumps(fork.rendered[env])) == []
    assert taskdef["family"] == "acme-shop-task"
    assert taskdef["executionRoleArn"].endswith(":role/acme-shop-execution-role")
    assert taskdef["taskRoleArn"].endswith(":role/acme-shop-task-role")
    (container,) = taskdef["containerDefinitions"]
    assert container["image"].split("@")[0].endswith("/acme-shop-api")
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/acme-shop-app"
    variables = {e["name"]: e["value"] for e in container["environment"]}
    assert (variables["SERVICE_NAME"], variables["METRICS_NAMESPACE"]) == (
        "acme-shop-service",
        NEW_TITLE,
    )
    assert {s["name"]: s["valueFrom"].split(":secret:")[1] for s in container["secrets"]} == {
        "API_KEYS": f"acme-shop/{env}/api-keys" + (":API_KEYS::" if env != "rehearsal" else ""),
        "DB_PASSWORD": f"acme-shop/{env}/db:password::",
    }
    assert (settings["cluster"], settings["service"], settings["lock_table"]) == (
        "acme-shop-cluster",
        "acme-shop-service",
        "acme-shop-locks",
    )
    assert settings["release_parameter_prefix"] == f"/acme-shop/{env}/release"
    assert settings["local_image"] == "acme-shop-api:local"
    assert settings["alarms"]
    assert all(alarm.startswith(f"acme-shop-{env}-") for alarm in settings["alarms"])
    ssm = [v for v in settings["environment"].values() if v.startswith("ssm:")]
    assert all(v.startswith(f"ssm:/acme-shop/{env}/service/") for v in ssm)


def test_the_workflows_make_and_compose_follow(fork: Fork) -> None:
    assert fork.names["repository"] == "acme-shop-api"  # what the image job pushes to
    assert "-p acme-shop " in fork.compose
    assert "IMAGE=acme-shop-api:local" in fork.compose
    assert "LOCAL_POSTGRES_IMAGE=acme-shop-postgres:local" in fork.compose
    assert old_names(fork.compose + json.dumps(fork.names)) == []
    # Nothing that configures a name spells the old one: no second place to edit.
    configuration = [
        *sorted((fork.root / ".github" / "workflows").glob("*.yml")),
        *sorted(fork.root.glob("compose*.yml")),
        fork.root / "Makefile",
        fork.root / "cdk.json",
        fork.root / "autopipe.toml",
        fork.root / "taskdef.template.json",
    ]
    found = {p.name: old_names(p.read_text()) for p in configuration}
    assert {name: hits for name, hits in found.items() if hits} == {}
