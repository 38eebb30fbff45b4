"""Per-environment config: the production guarantees, context overrides, and the names the
deployer (`autopipe.toml`) must share with the stacks."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

import pytest

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


def test_the_deployer_uses_the_same_names() -> None:
    deployer = tomllib.loads((ROOT / "autopipe.toml").read_text())
    names = dataclasses.asdict(config.Names())
    shared = {k: v for k, v in deployer.items() if k in names}
    assert shared == {k: names[k] for k in shared}
    assert {"cluster", "service", "family", "repository", "log_group", "lock_table"} <= set(shared)
    for env in config.ENVIRONMENT_NAMES:
        section = deployer["environments"][env]
        assert section["region"] == config.ENVIRONMENTS[env].region
        assert section["app_env"] == config.ENVIRONMENTS[env].app_env
