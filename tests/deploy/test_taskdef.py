"""taskdef.template.json and `render`: valid register-task-definition input (checked with
botocore's own model and validator), image by digest, Fargate-ready container."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from autopipe import resolve, taskdef
from autopipe.config import load_settings
from autopipe.errors import ConfigError
from tests.support.moto import CONFIG, ROOT

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/auto-pipe-api@{DIGEST}"


def rendered(env: str = "production", **overrides: Any) -> dict[str, Any]:
    settings = load_settings(config=CONFIG, env=env, environ={}, overrides=overrides)
    return resolve.render(
        settings, resolve.OfflineResolver(settings), image_uri=IMAGE, image_tag="v7",
        git_sha="f" * 40,
    )  # fmt: skip


def botocore_errors(params: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    assert shape is not None
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def test_rendered_is_valid_register_task_definition_input() -> None:
    out = rendered()
    assert botocore_errors(out) == ""
    # Exactly the keys the AWS CLI's --cli-input-json and the GitHub deploy action accept.
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    assert shape is not None
    members = set(shape.members)
    assert set(out) <= members
    assert json.loads(taskdef.dumps(out)) == out


def test_the_template_describes_a_hardened_fargate_task() -> None:
    out = rendered()
    assert (out["cpu"], out["memory"], out["networkMode"]) == ("256", "512", "awsvpc")
    assert out["requiresCompatibilities"] == ["FARGATE"]
    assert out["runtimePlatform"] == {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
    c = taskdef.container_of(out, "app")
    assert c["image"] == IMAGE  # by digest, never a tag
    assert c["memory"] == 512  # moto's RunTask needs it; Fargate accepts it
    assert c["readonlyRootFilesystem"] is True
    assert c["user"] == "10001:10001"
    assert c["portMappings"][0]["containerPort"] == 8080
    assert c["stopTimeout"] > 0
    assert c["linuxParameters"]["initProcessEnabled"] is True
    assert "urllib" in " ".join(c["healthCheck"]["command"])
    assert "/health" in " ".join(c["healthCheck"]["command"])
    mounts = {m["containerPath"]: m["sourceVolume"] for m in c["mountPoints"]}
    assert mounts["/tmp"] in {v["name"] for v in out["volumes"]}
    assert all("host" not in v for v in out["volumes"])  # ephemeral storage on Fargate
    options = c["logConfiguration"]["options"]
    assert c["logConfiguration"]["logDriver"] == "awslogs"
    assert options["awslogs-group"] == "/ecs/auto-pipe-app"
    assert options["awslogs-region"] == "eu-west-1"
    env = taskdef.env_of(c)
    assert env["IMAGE_TAG"] == "v7"
    assert env["GIT_SHA"] == "f" * 40
    assert env["ENV"] == "production"
    secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
    assert secrets["API_KEYS"].startswith("arn:aws:secretsmanager:eu-west-1:")
    assert secrets["DB_PASSWORD"].endswith(":password::")  # a key of the RDS secret
    assert "API_KEYS" not in env
    assert "DB_PASSWORD" not in env
    assert out["executionRoleArn"] == "arn:aws:iam::000000000000:role/auto-pipe-execution-role"


def test_architecture_is_configurable() -> None:
    out = rendered(cpu_architecture="ARM64")
    assert out["runtimePlatform"]["cpuArchitecture"] == "ARM64"


def test_missing_secret_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(ConfigError, match="SECRET_DB_PASSWORD"):
        rendered(secrets={"API_KEYS": "x"})


def test_invalid_output_is_caught_by_botocore_model() -> None:
    template = taskdef.load_template(ROOT / "taskdef.template.json")
    template["containerDefinitions"][0]["memory"] = "512"  # a string where ECS wants an int
    values = dict.fromkeys(taskdef.PLACEHOLDER.findall(json.dumps(template)), "x")
    with pytest.raises(ConfigError, match="register-task-definition"):
        taskdef.render(template, values, container="x")


def test_extra_environment_replaces_and_appends_sorted() -> None:
    out = rendered(environment={"PORT": "9000", "ZED": "1", "ALPHA": "2"})
    names = [e["name"] for e in taskdef.container_of(out, "app")["environment"]]
    env = taskdef.env_of(taskdef.container_of(out, "app"))
    assert env["PORT"] == "9000"
    assert names[-2:] == ["ALPHA", "ZED"]


def test_normalize_ignores_what_ecs_adds() -> None:
    out = rendered()
    live = json.loads(json.dumps(out))
    live.update(taskDefinitionArn="arn:x", revision=3, status="ACTIVE", compatibilities=["FARGATE"])
    c = live["containerDefinitions"][0]
    c["portMappings"][0]["hostPort"] = 8080
    c.update(volumesFrom=[], systemControls=[])
    c["environment"].reverse()
    assert taskdef.normalize(live) == taskdef.normalize(out)
