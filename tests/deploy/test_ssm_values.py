"""`ssm:/name` values in autopipe.toml's `environment`: read from SSM at render time, so the
task definition gets the address the service stack published, never a copied placeholder."""

from __future__ import annotations

import dataclasses

import pytest

from autopipe import resolve, taskdef
from autopipe.config import load_settings
from autopipe.errors import ConfigError
from tests.support.moto import CONFIG, World

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/auto-pipe-api@sha256:" + "ef" * 32
HOST = "/auto-pipe/rehearsal/service/db-host"


def render_env(world: World, resolver: resolve.Resolver | None = None) -> dict[str, str]:
    settings = dataclasses.replace(
        world.settings, environment={**world.settings.environment, "DB_HOST": f"ssm:{HOST}"}
    )
    out = resolve.render(
        settings, resolver or resolve.AwsResolver(world.aws, settings), image_uri=IMAGE,
        image_tag="v1", git_sha="a" * 40,
    )  # fmt: skip
    return taskdef.env_of(taskdef.container_of(out, settings.container))


def test_an_ssm_value_is_read_when_the_task_definition_is_rendered(world: World) -> None:
    address = "auto-pipe-rehearsal-db.abc123.us-east-1.rds.amazonaws.com"
    world.aws.client("ssm").put_parameter(Name=HOST, Value=address, Type="String")
    assert render_env(world)["DB_HOST"] == address


def test_a_missing_parameter_is_a_config_error_naming_it(world: World) -> None:
    with pytest.raises(ConfigError, match=f"SSM parameter '{HOST}' not found"):
        render_env(world)


def test_offline_rendering_leaves_it_empty_for_a_local_database(world: World) -> None:
    assert render_env(world, resolve.OfflineResolver(world.settings))["DB_HOST"] == ""


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_shipped_config_takes_the_database_address_from_the_stack(env: str) -> None:
    settings = load_settings(config=CONFIG, env=env, environ={})
    assert settings.environment["DB_HOST"] == f"ssm:/auto-pipe/{env}/service/db-host"
    assert settings.environment["DB_PORT"] == f"ssm:/auto-pipe/{env}/service/db-port"
