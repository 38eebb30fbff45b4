"""Settings, read once from the environment (and `.env`) behind a cached `get_settings()`."""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import __version__

Environment = Literal["development", "test", "staging", "production"]


@dataclass(frozen=True)
class TcpKeepalive:
    """TCP options of every pooled PostgreSQL connection, in libpq's terms (`keepalives_idle`,
    `keepalives_interval`, `keepalives_count`, `tcp_user_timeout`; asyncpg has no such options,
    app/items/pg_pool.py sets them on the socket)."""

    idle: int  # s of silence before the first probe (TCP_KEEPIDLE)
    interval: int  # s between probes (TCP_KEEPINTVL)
    count: int  # unanswered probes that close the connection (TCP_KEEPCNT)
    user_timeout_ms: int  # sent data unacknowledged this long closes it (TCP_USER_TIMEOUT)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

    env: Environment = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # Development only: restart on code changes (ignores WORKERS).
    reload: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # None picks by environment: console in development, JSON everywhere else.
    log_format: Literal["json", "console"] | None = None

    # Either a full URL, or the parts ECS injects from the RDS-generated secret.
    database_url: SecretStr | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "app"
    db_user: str = "app"
    db_password: SecretStr | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Waiting for a pooled connection longer than this answers 503 instead of queueing.
    db_pool_timeout: float = Field(default=2.0, gt=0)
    db_connect_timeout: float = Field(default=3.0, gt=0)
    db_statement_timeout: float = Field(default=10.0, gt=0)
    ready_timeout: float = Field(default=2.0, gt=0)
    retry_after_seconds: int = Field(default=5, ge=1)

    # Networks whose X-Forwarded-For / X-Forwarded-Proto are believed: the load balancer's
    # (in AWS, the VPC's CIDR). Empty: nobody's, so a client cannot choose the address logged
    # for it or the scheme the service thinks it was reached by.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    shutdown_timeout: int = Field(default=20, ge=0)
    # HTTP limits (app/server.py). Idle connections outlive the ALB's 60 s idle timeout, so the
    # ALB, not the task, closes them (a task closing first can meet a request in flight: 502).
    keep_alive_timeout: int = Field(default=75, ge=1)
    header_read_timeout: float = Field(default=10.0, gt=0)
    # Connections (or requests) at once; past this uvicorn answers 503 at once.
    max_connections: int = Field(default=1000, ge=1)

    # CloudWatch embedded metric format on each JSON access line (RED metrics with no agent).
    emf_metrics: bool = True
    # Outside ECS only: in ECS the task definition sets both from the project's names.
    service_name: str = "auto-pipe-service"
    metrics_namespace: str = "AutoPipe"

    # OpenTelemetry tracing (app/observability/tracing.py): off unless an OTLP endpoint is set.
    # The standard OTEL_* names, so the collector's documentation applies as written.
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_sdk_disabled: bool = False
    # Bounds one export, and the final flush at shutdown: a missing or hung collector must not
    # keep the task past ECS's stop timeout.
    tracing_export_timeout: float = Field(default=5.0, gt=0)

    app_version: str = __version__
    git_sha: str = "unknown"
    image_tag: str = "unknown"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        """Accept `a,b` or a JSON array (`["a","b"]`, as Secrets Manager injects it)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("{"):
            # What ECS injects when the secret reference lacks its JSON key (`...:API_KEYS::`).
            raise ValueError(
                "API_KEYS is a JSON object; give a comma-separated list or a JSON array "
                "(reference the secret's key, e.g. arn:...:secret:name:API_KEYS::)"
            )
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError("API_KEYS looks like JSON but does not parse") from exc
            if not isinstance(parsed, list) or not all(isinstance(k, str) for k in parsed):
                raise ValueError("API_KEYS as JSON must be an array of strings")
            keys = parsed
        else:
            keys = text.split(",")
        return tuple(k.strip() for k in keys if k.strip())

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        """`10.0.0.0/16,10.1.0.0/16`: each an address or a network (checked here, not at the
        first request)."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        networks = []
        for item in (str(i).strip() for i in items):
            if item:
                try:
                    networks.append(str(ipaddress.ip_network(item, strict=False)))
                except ValueError:
                    raise ValueError(
                        f"TRUSTED_PROXIES: {item!r} is not an address or network"
                    ) from None
        return tuple(networks)

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.env == "production" and not self.api_keys:
            raise ValueError("API_KEYS must be set in production: writes would be impossible")
        return self

    @property
    def is_json_logs(self) -> bool:
        if self.log_format is not None:
            return self.log_format == "json"
        return self.env != "development"

    @property
    def otel_traces_url(self) -> str | None:
        """Where spans go over OTLP/HTTP; None means tracing is off."""
        if self.otel_sdk_disabled:
            return None
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint:
            # The generic variable names the collector's base URL and the signal path is
            # appended; the traces-specific one is used as it is (the OTLP exporter spec).
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    @property
    def db_tcp_keepalive(self) -> TcpKeepalive:
        """Derived from DB_STATEMENT_TIMEOUT (T): no database wait is meant to outlast it, so a
        peer that stopped answering is given up on after about as long. An idle pooled
        connection to a vanished server is probed from T/2 on and closed at about
        T/2 + 3 * T/6 ≈ T (whole seconds, at least 1 each), before a request is handed it; data
        sent and not acknowledged closes the connection in the kernel after T + 1 s, just past
        the pool's own watchdog (T + 0.5 s). A live server's kernel acknowledges probes however
        long a query runs, so neither cuts a slow query short."""
        timeout = self.db_statement_timeout
        return TcpKeepalive(
            idle=max(1, math.ceil(timeout / 2)),
            interval=max(1, math.ceil(timeout / 6)),
            count=3,
            user_timeout_ms=math.ceil(timeout * 1000) + 1000,
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL, whichever way the database was configured."""
        if self.database_url is not None:
            return normalize_database_url(self.database_url.get_secret_value())
        if self.db_host:
            password = self.db_password.get_secret_value() if self.db_password else ""
            user = quote(self.db_user, safe="")
            auth = f"{user}:{quote(password, safe='')}" if password else user
            return f"postgresql+asyncpg://{auth}@{self.db_host}:{self.db_port}/{self.db_name}"
        return "sqlite+aiosqlite:///./data/app.db"


def normalize_database_url(url: str) -> str:
    """Map the usual spellings onto the async drivers this service ships with."""
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
