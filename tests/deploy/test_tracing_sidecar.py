"""The ADOT collector sidecar documented in docs/tracing.md, applied to taskdef.template.json
as the doc says: it renders, passes botocore's model, registers in ECS (moto, through the same
client factory as deploys) and fits Fargate; its task-role statement is a valid IAM policy."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

from autopipe import resolve, taskdef
from autopipe.config import load_settings
from tests.support.moto import CONFIG, ROOT, World
from tests.support.sidecar import example, with_sidecar

DIGEST = "sha256:" + "cd" * 32
# Fargate's CPU units → allowed memory (MiB) for the sizes a small API uses.
FARGATE_SIZES = {256: {512, 1024, 2048}, 512: set(range(1024, 4097, 1024))}


def test_documented_sidecar_renders_registers_and_fits(world: World, tmp_path: Path) -> None:
    path = tmp_path / "taskdef.template.json"
    path.write_text(json.dumps(with_sidecar(taskdef.load_template(ROOT / "taskdef.template.json"))))
    statement = example()["taskRoleStatement"]
    settings = load_settings(
        config=CONFIG, env="production", environ={}, overrides={"template": str(path)}
    )
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/auto-pipe-api@{DIGEST}"
    out = resolve.render(
        settings, resolve.OfflineResolver(settings), image_uri=image, image_tag="v1",
        git_sha="e" * 40,
    )  # fmt: skip

    containers = {c["name"]: c for c in out["containerDefinitions"]}
    app, collector = containers[settings.container], containers["aws-otel-collector"]
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
    assert collector["logConfiguration"]["options"]["awslogs-group"] == settings.log_group
    # The app keeps the size it is tested at; the task grows to hold the collector.
    assert (app["cpu"], app["memory"]) == (256, 512)
    cpu, memory = int(out["cpu"]), int(out["memory"])
    assert memory in FARGATE_SIZES[cpu]
    assert sum(c["cpu"] for c in containers.values()) <= cpu
    assert sum(c["memory"] for c in containers.values()) <= memory
    # Tracing is optional: the collector failing must not stop the app.
    assert collector["essential"] is False
    assert collector["readonlyRootFilesystem"] is True

    registered = world.aws.ecs().register_task_definition(**out)["taskDefinition"]
    names = [c["name"] for c in registered["containerDefinitions"]]
    assert names == [settings.container, "aws-otel-collector"]
    assert registered["containerDefinitions"][0]["dependsOn"] == [
        {"containerName": "aws-otel-collector", "condition": "START"}
    ]

    document = {"Version": "2012-10-17", "Statement": [statement]}
    policy = world.aws.iam().create_policy(
        PolicyName="auto-pipe-xray-write", PolicyDocument=json.dumps(document)
    )["Policy"]
    # IAM parsed the document: it reads back with exactly these actions.
    iam = world.aws.iam()
    stored = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    stored = json.loads(unquote(stored)) if isinstance(stored, str) else stored
    assert stored["Statement"][0]["Action"] == statement["Action"]
    actions = statement["Action"]
    assert all(a.startswith("xray:") and "*" not in a for a in actions)
