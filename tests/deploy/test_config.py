"""Settings precedence: defaults < autopipe.toml < [environments.X] < AUTOPIPE_* < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopipe import names
from autopipe.config import Settings, load_settings
from autopipe.errors import ConfigError
from tests.support.moto import CONFIG


def test_the_names_derive_from_the_project() -> None:
    s = Settings(project="auto-pipe", env="staging")
    assert (s.cluster, s.service, s.family, s.repository, s.log_group, s.lock_table) == (
        "auto-pipe-cluster", "auto-pipe-service", "auto-pipe-task", "auto-pipe-api",
        "/ecs/auto-pipe-app", "auto-pipe-locks",
    )  # fmt: skip
    assert s.release_prefix == "/auto-pipe/staging/release"
    assert Settings(project="acme-shop", cluster="kept").cluster == "kept"  # a set name wins


def test_placeholders_name_the_derived_names(tmp_path: Path) -> None:
    config = tmp_path / "autopipe.toml"
    config.write_text(
        'project = "acme-shop"\n[environments.qa]\nalarms = ["{prefix}-5xx"]\n'
        'secrets = { API_KEYS = "{api_keys_secret}:API_KEYS" }\n'
        'environment = { DB_HOST = "ssm:{service_parameters}/db-host", RAW = "{other}" }\n'
    )
    s = load_settings(config=config, env="qa", environ={})
    assert s.alarms == ("acme-shop-qa-5xx",)
    assert s.secrets == {"API_KEYS": "acme-shop/qa/api-keys:API_KEYS"}
    assert s.environment == {"DB_HOST": "ssm:/acme-shop/qa/service/db-host", "RAW": "{other}"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('alarms = ["x"]\n', "set `project`"),
        ('project = "Acme_Shop"\n', "lowercase"),
        ('cluster = "c"\nalarms = ["{prefix}-5xx"]\n', "need `project`"),
    ],
)
def test_a_missing_or_bad_project_is_a_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "autopipe.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config=config, environ={})


def test_the_repository_config_has_staging_and_production() -> None:
    staging = load_settings(config=CONFIG, env="staging", environ={})
    production = load_settings(config=CONFIG, env="production", environ={})
    assert staging.cluster == production.cluster == "auto-pipe-cluster"
    assert staging.url != production.url
    # Autoscaling owns the task count in AWS: a deploy must not reset it.
    assert staging.desired_count is None
    assert production.desired_count is None
    assert production.app_env == "production"
    assert production.alarms
    assert set(production.secrets) == {"API_KEYS", "DB_PASSWORD"}
    assert load_settings(config=CONFIG, environ={}).env == "staging"  # default_environment


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "autopipe.toml"
    config.write_text(
        'project = "p"\ncluster = "top"\npoll_interval = 1.5\nalarms = ["a"]\n'
        '[environments.prod]\ncluster = "env"\nservice = "svc-env"\n'
    )
    environ = {"AUTOPIPE_SERVICE": "svc-var", "AUTOPIPE_ALARMS": "x, y", "AUTOPIPE_ENV": "prod"}
    s = load_settings(config=config, environ=environ, overrides={"poll_interval": 0.1})
    assert s.env == "prod"
    assert s.cluster == "env"  # environment section beats top level
    assert s.service == "svc-var"  # AUTOPIPE_* beats the file
    assert s.alarms == ("x", "y")
    assert s.poll_interval == 0.1  # flags beat everything
    assert s.template_path == tmp_path / "taskdef.template.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('clustr = "typo"\n', "unknown setting"),
        ('cpu_architecture = "SPARC"\n', "cpu_architecture"),
        ('scan_fail_on = ["SEVERE"]\n', "unknown severities"),
        ("smoke_passes = 0\n", "smoke_passes"),
        ('url = "ftp://x"\n', "url must start"),
        ("poll_interval = 'soon'\n", "poll_interval"),
        ("[environments.a]\n", "unknown environment"),
        ("not toml at all = = \n", "autopipe.toml"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "autopipe.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config=config, env="b" if "environments" in text else None, environ={})


def test_tables_from_the_environment_are_json(tmp_path: Path) -> None:
    s = load_settings(
        config=CONFIG, env="staging", environ={"AUTOPIPE_ENVIRONMENT": '{"LOG_LEVEL": "DEBUG"}'}
    )
    assert s.environment == {"LOG_LEVEL": "DEBUG"}
    with pytest.raises(ConfigError, match="JSON object"):
        load_settings(config=CONFIG, environ={"AUTOPIPE_SECRETS": "nope"})


def test_the_config_is_found_from_a_subdirectory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFIG.parent / "autopipe" / "commands")
    assert load_settings(env="production", environ={}).region == "eu-west-1"


def test_the_names_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m autopipe.names` (what `make names` runs): one name, or all; a bad project is a
    one-line error and exit 2."""
    config = tmp_path / "autopipe.toml"
    config.write_text('project = "acme-shop"\n')
    assert names.main(["repository", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "acme-shop-api\n"
    assert names.main(["--config", str(config)]) == 0
    listed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert (listed["cluster"], listed["title"], listed["local_image"]) == (
        "acme-shop-cluster", "AcmeShop", "acme-shop-api:local",
    )  # fmt: skip
    config.write_text('project = "Acme_Shop"\n')
    assert names.main(["--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: ")
