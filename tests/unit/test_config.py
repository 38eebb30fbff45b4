"""Settings: API keys in both spellings, production guard, database URL, log format, and how
`python -m app` reports bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from app.config import Settings, normalize_database_url

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {name.lower() for name in Settings.model_fields}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def keys(s: Settings) -> tuple[str, ...]:
    return tuple(k.get_secret_value() for k in s.api_keys)


def without_settings_vars(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.lower() not in FIELDS}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the runner's environment holds (CI, a developer's shell) must not leak in."""
    for name in os.environ:
        if name.lower() in FIELDS:
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("one", ("one",)),
        ("one,two", ("one", "two")),
        (" one , two ,, ,three, ", ("one", "two", "three")),
        ('["one", "two"]', ("one", "two")),
        ('  [" one ", "", "  ", "two"]  ', ("one", "two")),
        ("[]", ()),
        (" , ,", ()),
    ],
)
def test_api_keys_accept_commas_and_json_arrays(raw: str, expected: tuple[str, ...]) -> None:
    assert keys(settings(api_keys=raw)) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", "array of strings"),
        ('["a", 1]', "array of strings"),
        ('[["a"]]', "array of strings"),
        ('["a", null]', "array of strings"),
        ('["a",', "does not parse"),
        ("[not json]", "does not parse"),
        ('{"API_KEYS": "a,b"}', "API_KEYS"),  # a whole Secrets Manager secret, not its key
    ],
)
def test_api_keys_that_are_not_a_list_of_strings_are_rejected(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        settings(api_keys=raw)
    assert [e["loc"] for e in caught.value.errors()] == [("api_keys",)]


def test_api_keys_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEYS", '["a","b"]')
    assert keys(Settings(_env_file=None)) == ("a", "b")
    monkeypatch.setenv("API_KEYS", "c, d")
    assert keys(Settings(_env_file=None)) == ("c", "d")


def test_api_keys_stay_out_of_repr() -> None:
    s = settings(api_keys="very-secret-key")
    assert "very-secret-key" not in repr(s)
    assert "very-secret-key" not in str(s.model_dump())


@pytest.mark.parametrize("api_keys", [None, "", " , ", "[]"])
def test_production_without_keys_is_refused(api_keys: str | None) -> None:
    values = {} if api_keys is None else {"api_keys": api_keys}
    with pytest.raises(ValidationError, match="API_KEYS must be set in production"):
        settings(env="production", **values)


def test_production_with_keys_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("API_KEYS", "k1")
    s = Settings(_env_file=None)
    assert s.env == "production"
    assert keys(s) == ("k1",)


@pytest.mark.parametrize("env", ["development", "test", "staging"])
def test_other_environments_may_run_without_keys(env: str) -> None:
    assert settings(env=env).api_keys == ()


def test_default_database_is_local_sqlite() -> None:
    assert settings().sqlalchemy_url == "sqlite+aiosqlite:///./data/app.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgresql://u:p@h/d", "postgresql+asyncpg://u:p@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_url_maps_onto_async_drivers(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected
    assert settings(database_url=url).sqlalchemy_url == expected


def test_database_url_wins_over_parts() -> None:
    s = settings(database_url="postgres://u@h/d", db_host="other", db_password="pw")
    assert s.sqlalchemy_url == "postgresql+asyncpg://u@h/d"


def test_parts_compose_with_awkward_credentials_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "p@ss:w/rd%20?#&=+ x"
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_PORT", "6543")
    monkeypatch.setenv("DB_NAME", "items")
    monkeypatch.setenv("DB_USER", "us@er:1")
    monkeypatch.setenv("DB_PASSWORD", password)
    url = make_url(Settings(_env_file=None).sqlalchemy_url)
    assert url.drivername == "postgresql+asyncpg"
    assert url.username == "us@er:1"
    assert url.password == password
    assert url.host == "db.internal"
    assert url.port == 6543
    assert url.database == "items"


def test_parts_without_password_have_no_colon() -> None:
    url = settings(db_host="db").sqlalchemy_url
    assert url == "postgresql+asyncpg://app@db:5432/app"
    assert make_url(url).password is None


@pytest.mark.parametrize(
    ("env", "log_format", "json_logs"),
    [
        ("development", None, False),
        ("test", None, True),
        ("staging", None, True),
        ("development", "json", True),
        ("staging", "console", False),
    ],
)
def test_log_format_follows_environment_unless_set(
    env: str, log_format: str | None, json_logs: bool
) -> None:
    assert settings(env=env, log_format=log_format).is_json_logs is json_logs


def test_production_logs_json_by_default() -> None:
    assert settings(env="production", api_keys="k").is_json_logs is True


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, None),  # off by default
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/"},
            "http://localhost:4318/v1/traces",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom",
            },
            "http://collector:4318/custom",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", "OTEL_SDK_DISABLED": "true"},
            None,
        ),
    ],
)
def test_tracing_follows_the_standard_otel_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str | None
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).otel_traces_url == url


@pytest.mark.parametrize(
    ("extra_env", "expected"),
    [
        ({}, "API_KEYS must be set in production"),
        ({"API_KEYS": '["a", 1]'}, "api_keys: Value error, API_KEYS as JSON must be an array"),
        ({"API_KEYS": "k", "PORT": "0"}, "port: Input should be greater than or equal to 1"),
    ],
)
def test_python_m_app_reports_invalid_settings_on_one_line(
    extra_env: dict[str, str], expected: str
) -> None:
    env = {**without_settings_vars(dict(os.environ)), "ENV": "production", **extra_env}
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid settings: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("statement_timeout", "idle", "interval", "user_timeout_ms"),
    [
        (10.0, 5, 2, 11_000),  # the default: a silent peer found after 5 + 3 * 2 = 11 s
        (1.5, 1, 1, 2_500),
        (0.2, 1, 1, 1_200),  # whole seconds, at least one
        (30.0, 15, 5, 31_000),
    ],
)
def test_tcp_keepalive_follows_the_statement_timeout(
    statement_timeout: float, idle: int, interval: int, user_timeout_ms: int
) -> None:
    keepalive = settings(db_statement_timeout=statement_timeout).db_tcp_keepalive
    assert (keepalive.idle, keepalive.interval, keepalive.count) == (idle, interval, 3)
    assert keepalive.user_timeout_ms == user_timeout_ms
