"""The deployment strategy settings: per environment, within the ranges ECS accepts, and a bad
value is one line on stderr with exit 2 before anything is read from AWS."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopipe.cli import app
from autopipe.config import Settings, load_settings
from autopipe.errors import ConfigError
from autopipe.strategy import shift_seconds
from tests.support.moto import CONFIG


def test_rolling_stays_the_built_in_default() -> None:
    assert Settings(project="auto-pipe").strategy == "rolling"
    assert not Settings(project="auto-pipe").shifts_traffic
    rehearsal = load_settings(config=CONFIG, env="rehearsal", environ={})
    assert rehearsal.strategy == "rolling"


def test_the_repository_config_chooses_per_environment() -> None:
    staging = load_settings(config=CONFIG, env="staging", environ={})
    production = load_settings(config=CONFIG, env="production", environ={})
    assert (staging.strategy, staging.bake_minutes) == ("blue_green", 2)
    assert (production.strategy, production.canary_percent) == ("canary", 5.0)
    assert production.canary_bake_minutes == production.bake_minutes == 10
    assert staging.shifts_traffic
    assert production.shifts_traffic
    assert production.test_header_secret_name == "auto-pipe/production/test-traffic"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('strategy = "BLUE_GREEN"\n', "strategy must be one of"),
        ('strategy = "red_black"\n', "strategy must be one of"),
        ("bake_minutes = 1441\n", "bake_minutes must be 0..1440"),
        ("bake_minutes = -1\n", "bake_minutes must be 0..1440"),
        ("canary_percent = 0\n", "canary_percent must be 0.1..100"),
        ("canary_percent = 5.05\n", "steps of 0.1"),
        ("linear_step_percent = 2.9\n", "linear_step_percent must be 3..100"),
        ("linear_step_minutes = 2000\n", "linear_step_minutes must be 0..1440"),
        ("test_gate_minutes = 0\n", "test_gate_minutes must be 1..20160"),
        ('test_url = "ftp://x"\n', "test_url must start"),
        ('test_header = "x y"\n', "test_header must be a header name"),
        ("canary_percent = true\n", "canary_percent"),
        ('bake_minutes = "soon"\n', "bake_minutes"),
    ],
)
def test_bad_strategy_settings_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "autopipe.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config=config, environ={})


def test_the_cli_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "autopipe.toml"
    config.write_text('strategy = "canary"\ncanary_percent = 150\n')
    result = CliRunner().invoke(
        app, ["render", "--config", str(config)], env={"AUTOPIPE_STRATEGY": "blue-green"}
    )
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "strategy must be one of rolling, blue_green, canary, linear" in lines[0]
    assert "canary_percent must be 0.1..100" in lines[0]


@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ({"strategy": "blue_green", "bake_minutes": 5}, 0.0),
        ({"strategy": "canary", "canary_bake_minutes": 10}, 600.0),
        # 10 % steps: 10 shifts, a wait after each but the last (API_LinearConfiguration.html)
        ({"strategy": "linear", "linear_step_percent": 10.0, "linear_step_minutes": 6}, 3240.0),
        ({"strategy": "linear", "linear_step_percent": 33.0, "linear_step_minutes": 1}, 180.0),
    ],
)
def test_the_time_a_traffic_shift_takes(values: dict[str, object], seconds: float) -> None:
    assert shift_seconds(Settings(project="auto-pipe").with_overrides(**values)) == seconds
