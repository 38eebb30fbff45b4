"""Running a command: settings + AWS factory + reporter in, a result or an error out; the error
becomes an exit code here and nowhere else."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.text import Text

from autopipe.aws import Aws
from autopipe.config import Settings, load_settings
from autopipe.errors import AutopipeError, ConfigError, Interrupted
from autopipe.output import Reporter, emit_json


@dataclass(frozen=True)
class Common:
    """Options every command takes."""

    env: str | None = None
    config: str | None = None
    region: str | None = None
    cluster: str | None = None
    service: str | None = None
    endpoint_url: str | None = None
    output: str = "text"

    @property
    def json(self) -> bool:
        return self.output == "json"

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(
            config=self.config,
            env=self.env,
            overrides={
                "region": self.region,
                "cluster": self.cluster,
                "service": self.service,
                "endpoint_url": self.endpoint_url,
                **overrides,
            },
        )


def make_aws(settings: Settings, *, dry_run: bool = False) -> Aws:
    return Aws(region=settings.region, endpoint_url=settings.endpoint_url, read_only=dry_run)


def execute(command: str, common: Common, body: Callable[[Reporter], dict[str, Any]]) -> None:
    """Run `body`; print its result (JSON or nothing more); exit with the mapped code."""
    reporter = Reporter(json_mode=common.json)
    try:
        result = body(reporter)
    except KeyboardInterrupt:
        error: AutopipeError = Interrupted("Interrupted")
    except (AutopipeError, NoCredentialsError, NoRegionError, ClientError, BotoCoreError) as exc:
        error = as_error(exc)
    else:
        if common.json:
            emit_json({"command": command, "ok": True, "exit_code": 0, **result})
        return
    _report_error(command, common, error)
    raise typer.Exit(error.exit_code)


def describe_error(exc: BaseException) -> str:
    """One line naming an error: the AWS error code and message, or the exception."""
    if isinstance(exc, AutopipeError):
        return exc.message
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"AWS {error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def as_error(exc: BaseException, message: str | None = None) -> AutopipeError:
    """Any exception as the AutopipeError whose exit code it gets (one mapping, here)."""
    if isinstance(exc, AutopipeError):
        return exc
    if isinstance(exc, NoCredentialsError | NoRegionError):
        return ConfigError(
            message or f"AWS: {exc} (the standard credential chain found nothing usable)"
        )
    if isinstance(exc, ClientError | BotoCoreError):
        return AutopipeError(message or f"AWS: {exc}")
    return AutopipeError(message or describe_error(exc))


def _report_error(command: str, common: Common, error: AutopipeError) -> None:
    if isinstance(error, Interrupted):
        message = "Interrupted" + (f": {error.message}" if error.message != "Interrupted" else "")
    else:
        message = f"error: {error.message}"
    Console(file=sys.stderr, highlight=False, soft_wrap=True).print(Text(message, style="bold red"))
    if common.json:
        emit_json(
            {
                "command": command,
                "ok": False,
                "exit_code": error.exit_code,
                "error": {"kind": error.kind, "message": error.message},
                **error.details,
            }
        )
