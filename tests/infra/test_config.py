"""Per-environment config: the production guarantees, context overrides, and the names the
deployer (`autopipe.toml`) must share with the stacks."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

import pytest

from autopipe.config import load_settings
from infra import config
from infra.errors import ConfigError
from tests.infra.conftest import ROOT


@pytest.mark.parametrize(
    "change",
    [
        {"min_tasks": 1, "max_tasks": 6},
        {"deletion_protection": False},
        {"db_multi_az": False},
        {"enable_execute_command": True},
    ],
)
def test_production_guarantees_cannot_be_configured_away(change: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="production"):
        dataclasses.replace(config.PRODUCTION, **change)


@pytest.mark.parametrize(
    "change",
    [
        {"availability_zones": ("eu-west-1a",)},
        {"availability_zones": ("us-east-1a", "us-east-1b")},
        {"min_tasks": 3, "max_tasks": 2},
        {"nat_gateways": 0},
        {"github_repository": "org/*"},
        {"cpu_architecture": "x86"},
    ],
)
def test_invalid_settings_are_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        dataclasses.replace(config.STAGING, **change)


def test_context_overrides_are_typed_per_environment() -> None:
    context = {
        "production:certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x",
        "production:domain_name": "api.example.org",
        "production:max_tasks": "8",
        "production:public_task_subnets": "false",
        "production:availability_zones": "eu-west-1b, eu-west-1c",
        "staging:account": "111111111111",
    }
    production = config.load("production", context.get)
    assert production.certificate_arn == "arn:aws:acm:eu-west-1:1:certificate/x"
    assert production.max_tasks == 8
    assert production.availability_zones == ("eu-west-1b", "eu-west-1c")
    assert production.account is None
    assert config.load("staging", context.get).account == "111111111111"
    with pytest.raises(ConfigError, match="unknown environment"):
        config.load("qa")
    with pytest.raises(ConfigError, match="true or false"):
        config.load("staging", {"staging:public_task_subnets": "yes"}.get)


def test_derived_names() -> None:
    c = config.STAGING
    assert c.github_subject == "repo:example-org/auto-pipe:environment:staging"
    assert c.api_keys_secret_name == "auto-pipe/staging/api-keys"
    assert c.release_parameter_prefix == "/auto-pipe/staging/release"
    assert c.alarm_name("5xx") == "auto-pipe-staging-5xx"


NAMES = ("cluster", "service", "family", "repository", "log_group", "lock_table", "execution_role",
         "task_role", "container", "log_stream_prefix")  # fmt: skip


@pytest.mark.parametrize("env", config.ENVIRONMENT_NAMES)
def test_the_deployer_loads_the_names_the_stack_creates(env: str) -> None:
    """Both read `project` from autopipe.toml: the deployer through its settings loader, the
    stacks through infra/config.py; every name one of them uses, the other uses too."""
    deployer = load_settings(config=ROOT / "autopipe.toml", env=env, environ={})
    stack = config.ENVIRONMENTS[env]
    assert deployer.project == stack.project
    assert {k: getattr(deployer, k) for k in NAMES} == {k: getattr(stack.names, k) for k in NAMES}
    assert deployer.release_prefix == stack.release_parameter_prefix
    assert deployer.secrets["API_KEYS"].partition(":")[0] == stack.api_keys_secret_name
    assert deployer.secrets["DB_PASSWORD"].partition(":")[0] == stack.db_secret_name
    assert deployer.alarms
    assert all(alarm.startswith(f"{stack.prefix}-") for alarm in deployer.alarms)
    ssm = [v.removeprefix("ssm:") for v in deployer.environment.values() if v.startswith("ssm:")]
    assert ssm
    assert all(name.startswith(f"{stack.service_parameter_prefix}/") for name in ssm)


def test_the_deployer_has_the_stacks_environments() -> None:
    deployer = tomllib.loads((ROOT / "autopipe.toml").read_text())
    for env in config.ENVIRONMENT_NAMES:
        section = deployer["environments"][env]
        assert section["region"] == config.ENVIRONMENTS[env].region
        assert section["app_env"] == config.ENVIRONMENTS[env].app_env


def test_the_project_name_is_checked_and_not_a_context_value() -> None:
    with pytest.raises(ConfigError, match="lowercase"):
        dataclasses.replace(config.STAGING, project="Auto_Pipe")
    renamed = config.load("staging", {"staging:project": "other"}.get)
    assert renamed.project == config.STAGING.project  # autopipe.toml's, for both
