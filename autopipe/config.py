"""Settings: built-in defaults < `autopipe.toml` < its `[environments.<env>]` section
< `AUTOPIPE_*` environment variables < command-line flags.

`AUTOPIPE_<FIELD>` exists for every field (lists comma-separated, tables as JSON objects);
`AUTOPIPE_ENV` picks the environment, `AUTOPIPE_CONFIG` the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopipe import names
from autopipe.errors import ConfigError

CONFIG_FILE = "autopipe.toml"
ARCHITECTURES = ("X86_64", "ARM64")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
# --- deployment strategy (docs/deployer.md#strategies) ---
STRATEGIES = ("rolling", "blue_green", "canary", "linear")


@dataclass(frozen=True)
class Settings:
    env: str = "staging"
    region: str = "us-east-1"
    account_id: str | None = None
    endpoint_url: str | None = None
    # The physical names: empty = derived from `project` (autopipe/names.py), which is how the
    # repository's autopipe.toml gets them; a name set explicitly wins.
    project: str = ""
    cluster: str = ""
    service: str = ""
    family: str = ""
    container: str = "app"
    repository: str = ""
    log_group: str = ""
    log_stream_prefix: str = "app"
    metrics_namespace: str = ""  # the app's CloudWatch metrics (METRICS_NAMESPACE in the task)
    template: str = "taskdef.template.json"
    # What the task sees and where it runs.
    app_env: str = "staging"
    cpu_architecture: str = "X86_64"
    execution_role: str = ""
    task_role: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    desired_count: int | None = None
    # Gates and guards.
    url: str = ""
    alarms: tuple[str, ...] = ()
    lock_table: str = ""
    lock_ttl: int = 3600  # the lease of `autopipe lock acquire` (a person: no heartbeats)
    lock_lease: float = 60.0  # a deploy's lease, renewed every lease/3 while it runs
    scan_fail_on: tuple[str, ...] = ("CRITICAL", "HIGH")
    scan_missing: str = "fail"  # a platform with no scan: fail (NG), warn (OK, marked), skip
    scan_reports: tuple[str, ...] = ()  # Trivy JSON reports accepted as scan evidence
    allow_alarm: str = ""  # the reason a deploy may start while a deployment alarm is in ALARM
    migration_command: tuple[str, ...] = ("python", "-m", "app.migrate")
    migration_timeout: float = 600.0
    rollout_timeout: float = 900.0
    rollback_timeout: float = 900.0
    poll_interval: float = 1.0
    smoke_passes: int = 3
    smoke_interval: float = 0.3
    smoke_timeout: float = 60.0
    slack_webhook_env: str = "SLACK_WEBHOOK_URL"
    local_image: str = ""
    # SSM parameters (`image`, `image-tag`, `git-sha`) recording what serves now; the infra stack
    # reads them. `{env}` is replaced by the environment's name; empty = derived from `project`.
    release_parameter_prefix: str = ""
    # --- deployment strategy (docs/deployer.md#strategies); infra/config.py must agree ---
    strategy: str = "rolling"  # rolling | blue_green | canary | linear
    bake_minutes: int = 0  # after 100 % of production traffic: old tasks kept, alarms watched
    canary_percent: float = 5.0  # canary: production share on the new revision...
    canary_bake_minutes: int = 10  # ...for this long before the rest moves
    linear_step_percent: float = 10.0  # linear: production share moved per step...
    linear_step_minutes: int = 6  # ...and the wait after each step
    # The pre-traffic gate: ECS holds the deployment at POST_TEST_TRAFFIC_SHIFT (a PAUSE hook)
    # until autopipe answers; unanswered for this long, ECS rolls back by itself.
    test_gate_minutes: int = 30
    test_url: str = ""  # the test listener's address; empty: `url` (same listener, header rule)
    test_header: str = "X-Autopipe-Test-Traffic"  # the test listener rule's header...
    # ...and the Secrets Manager secret holding its value (a name, not the value).
    test_header_secret: str = ""  # empty: derived from `project` (autopipe/names.py)
    # --- end of the strategy block ---
    # Where relative paths (template) are resolved; set by the loader.
    root: str = "."

    def __post_init__(self) -> None:
        """Fill the names left empty from `project`, and the `{placeholders}` in the values."""
        if not self.project:
            return
        derived = names.Names(self.project, self.container, self.log_stream_prefix)
        for name in DERIVED:
            if not getattr(self, name):
                object.__setattr__(self, name, getattr(derived, name))
        if not self.release_parameter_prefix:
            prefix = derived.release_parameters(self.env)
            object.__setattr__(self, "release_parameter_prefix", prefix)
        if not self.test_header_secret:
            secret = derived.test_traffic_secret(self.env)
            object.__setattr__(self, "test_header_secret", secret)
        for f in dataclasses.fields(self):
            if f.name not in ("project", "env", "root"):
                value = getattr(self, f.name)
                object.__setattr__(self, f.name, _expand(value, derived, self.env))

    @property
    def template_path(self) -> Path:
        return Path(self.root) / self.template

    @property
    def lock_id(self) -> str:
        return f"{self.region}/{self.cluster}/{self.service}"

    @property
    def release_prefix(self) -> str:
        """`release_parameter_prefix` with `{env}` filled in."""
        return self.release_parameter_prefix.replace("{env}", self.env)

    @property
    def shifts_traffic(self) -> bool:
        """ECS moves traffic between two target groups (not a rolling update)."""
        return self.strategy != "rolling"

    @property
    def test_header_secret_name(self) -> str:
        return self.test_header_secret.replace("{env}", self.env)

    def with_overrides(self, **values: Any) -> Settings:
        return _build({**dataclasses.asdict(self), **_drop_none(values)})


FIELDS = {f.name for f in dataclasses.fields(Settings)}
# Settings that `project` provides when they are not set.
DERIVED = (
    "cluster", "service", "family", "repository", "log_group", "execution_role", "task_role",
    "lock_table", "local_image", "metrics_namespace",
)  # fmt: skip


def _expand(value: Any, derived: names.Names, env: str) -> Any:
    if isinstance(value, str):
        return derived.expand(value, env)
    if isinstance(value, tuple):
        return tuple(_expand(item, derived, env) for item in value)
    if isinstance(value, dict):
        return {key: _expand(item, derived, env) for key, item in value.items()}
    return value


def _placeholders_left(s: Settings) -> list[str]:
    left: set[str] = set()
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        texts = value.values() if isinstance(value, dict) else (value,)
        for text in texts if not isinstance(value, tuple) else value:
            if isinstance(text, str):
                left.update(names.unexpanded(text))
    return sorted(left)


def load_settings(
    *,
    config: str | Path | None = None,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    explicit = config or environ.get("AUTOPIPE_CONFIG")
    path = Path(explicit) if explicit else find_config(Path.cwd())
    data = _read_toml(path) if (explicit or path.exists()) else {}
    environments: dict[str, Any] = data.pop("environments", {})
    default_env = data.pop("default_environment", "staging")
    name = env or environ.get("AUTOPIPE_ENV") or default_env
    if environments and name not in environments:
        known = ", ".join(sorted(environments))
        raise ConfigError(f"unknown environment {name!r} in {path} (known: {known})")
    values: dict[str, Any] = {"root": str(path.resolve().parent)}
    for source, label in (
        (data, str(path)),
        (environments.get(name, {}), f"[environments.{name}]"),
    ):
        unknown = set(source) - FIELDS
        if unknown:
            raise ConfigError(f"unknown setting(s) in {label}: {', '.join(sorted(unknown))}")
        values.update(source)
    values.update(_from_environ(environ))
    values.update(_drop_none(dict(overrides or {})))
    values["env"] = name
    return _build(values)


def find_config(start: Path) -> Path:
    """`autopipe.toml` here or in the nearest parent (like git finds its repository)."""
    for directory in (start, *start.parents):
        if (directory / CONFIG_FILE).is_file():
            return directory / CONFIG_FILE
    return start / CONFIG_FILE


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    hints = typing.get_type_hints(Settings)
    out: dict[str, Any] = {}
    for name in FIELDS - {"env", "root"}:
        raw = environ.get(f"AUTOPIPE_{name.upper()}")
        if raw is None or raw == "":
            continue
        hint = hints[name]
        if hint in (tuple[str, ...],):
            out[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif hint == dict[str, str]:
            try:
                out[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"AUTOPIPE_{name.upper()} must be a JSON object") from exc
        else:
            out[name] = raw
    return out


def _coerce(name: str, hint: Any, value: Any) -> Any:
    try:
        if hint in (int, int | None):
            return None if value is None else int(value)
        if hint is float:
            if isinstance(value, bool):
                raise TypeError("expected a number")
            return float(value)
        if hint == tuple[str, ...]:
            items = [value] if isinstance(value, str) else list(value)
            return tuple(str(v) for v in items)
        if hint == dict[str, str]:
            if not isinstance(value, dict):
                raise TypeError("expected a table")
            return {str(k): str(v) for k, v in value.items()}
        return None if value is None else str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: {exc} (got {value!r})") from exc


def _build(values: dict[str, Any]) -> Settings:
    hints = typing.get_type_hints(Settings)
    coerced = {k: _coerce(k, hints[k], v) for k, v in values.items() if k in FIELDS}
    settings = Settings(**coerced)
    _validate(settings)
    return settings


def _name_problems(s: Settings) -> list[str]:
    problems = names.problems(s.project) if s.project else []
    if missing := [name for name in (*DERIVED, "release_parameter_prefix") if not getattr(s, name)]:
        problems.append(
            f"set `project` in {CONFIG_FILE} (every name derives from it) or {', '.join(missing)}"
        )
    if not s.project and (left := _placeholders_left(s)):
        problems.append(f"{{{'}, {'.join(left)}}} need `project` in {CONFIG_FILE}")
    return problems


def _validate(s: Settings) -> None:
    problems = _name_problems(s)
    if s.cpu_architecture not in ARCHITECTURES:
        problems.append(f"cpu_architecture must be one of {', '.join(ARCHITECTURES)}")
    if s.scan_missing not in ("fail", "warn", "skip"):
        problems.append("scan_missing must be 'fail', 'warn' or 'skip'")
    if bad := [v for v in s.scan_fail_on if v not in SEVERITIES]:
        problems.append(f"scan_fail_on: unknown severities {bad}")
    if s.poll_interval <= 0 or s.smoke_interval < 0:
        problems.append("poll_interval must be > 0 and smoke_interval >= 0")
    if s.lock_ttl <= 0 or s.lock_lease < 3:  # a heartbeat every lease/3 >= 1 s
        problems.append("lock_ttl must be > 0 and lock_lease >= 3 (seconds)")
    if s.smoke_passes < 1:
        problems.append("smoke_passes must be >= 1")
    if s.desired_count is not None and s.desired_count < 0:
        problems.append("desired_count must be >= 0")
    if s.url and not s.url.startswith(("http://", "https://")):
        problems.append("url must start with http:// or https://")
    if not s.migration_command:
        problems.append("migration_command must not be empty")
    prefix = s.release_parameter_prefix
    if prefix and (not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix):
        problems.append("release_parameter_prefix must start with '/' and not end with '/'")
    problems += strategy_problems(s)
    if problems:
        raise ConfigError("invalid settings: " + "; ".join(problems))


def strategy_problems(s: Settings) -> list[str]:
    """The ranges ECS accepts (API_DeploymentConfiguration, API_CanaryConfiguration,
    API_LinearConfiguration, API_DeploymentLifecycleHookTimeoutConfiguration)."""
    problems = []
    if s.strategy not in STRATEGIES:
        problems.append(f"strategy must be one of {', '.join(STRATEGIES)} (got {s.strategy!r})")
    minutes = {
        "bake_minutes": s.bake_minutes,
        "canary_bake_minutes": s.canary_bake_minutes,
        "linear_step_minutes": s.linear_step_minutes,
    }
    problems += [f"{k} must be 0..1440" for k, v in minutes.items() if not 0 <= v <= 1440]
    if not 0.1 <= s.canary_percent <= 100.0 or not _tenths(s.canary_percent):
        problems.append("canary_percent must be 0.1..100 in steps of 0.1")
    if not 3.0 <= s.linear_step_percent <= 100.0 or not _tenths(s.linear_step_percent):
        problems.append("linear_step_percent must be 3..100 in steps of 0.1")
    if not 1 <= s.test_gate_minutes <= 20160:
        problems.append("test_gate_minutes must be 1..20160")
    if s.test_url and not s.test_url.startswith(("http://", "https://")):
        problems.append("test_url must start with http:// or https://")
    if not s.test_header or not s.test_header.replace("-", "").isalnum():
        problems.append("test_header must be a header name (letters, digits, '-')")
    return problems


def _tenths(value: float) -> bool:
    return abs(value * 10 - round(value * 10)) < 1e-6
