"""The deployment strategy is stated twice, in autopipe.toml (what the deployer asks ECS for
and expects) and in infra/config.py (what the stack gives the service): the two agree for
every environment, so an infrastructure deploy never changes how the next release ships."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from autopipe.config import load_settings
from infra import config
from infra.errors import ConfigError
from tests.infra.conftest import ROOT

# autopipe.toml's name → infra/config.py's name.
SHARED = {
    "strategy": "deployment_strategy",
    "bake_minutes": "bake_minutes",
    "canary_percent": "canary_percent",
    "canary_bake_minutes": "canary_bake_minutes",
    "linear_step_percent": "linear_step_percent",
    "linear_step_minutes": "linear_step_minutes",
    "test_gate_minutes": "test_gate_minutes",
}


@pytest.mark.parametrize("env", config.ENVIRONMENT_NAMES)
def test_the_deployer_and_the_stack_agree_on_the_strategy(env: str) -> None:
    deployer = load_settings(config=ROOT / "autopipe.toml", env=env, environ={})
    stack = config.load(env, config.checked_in_context().get)
    for ours, theirs in SHARED.items():
        assert getattr(deployer, ours) == getattr(stack, theirs), (env, ours)
    assert deployer.test_header_secret_name == stack.test_traffic_secret_name


def test_the_environments_do_not_ship_rolling() -> None:
    """Both choose a strategy that proves a release before production traffic reaches it."""
    chosen = {e: config.ENVIRONMENTS[e].deployment_strategy for e in config.ENVIRONMENT_NAMES}
    assert chosen == {"staging": "blue_green", "production": "canary"}


@pytest.mark.parametrize(
    "change",
    [
        {"deployment_strategy": "BLUE_GREEN"},
        {"bake_minutes": 1441},
        {"canary_percent": 0.0},
        {"linear_step_percent": 2.0},
        {"test_gate_minutes": 0},
    ],
)
def test_bad_strategy_values_are_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="staging"):
        dataclasses.replace(config.STAGING, **change)


def test_context_overrides_the_strategy_typed() -> None:
    context = {"staging:canary_percent": "12.5", "staging:deployment_strategy": "canary"}
    staging = config.load("staging", context.get)
    assert (staging.deployment_strategy, staging.canary_percent) == ("canary", 12.5)
