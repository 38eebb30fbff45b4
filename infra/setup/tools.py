"""The command-line tools setup drives: the CDK CLI, Docker, the deployer, the GitHub CLI.
Each is found on PATH (so a stand-in on PATH replaces it) and run with its arguments as a
list, output streaming to the terminal; a failure raises with the command that failed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


class SetupError(ConfigError):
    """A step cannot go on: the message says why and what to do."""


class ToolFailed(SetupError):
    pass


def cdk() -> list[str]:
    """The CDK CLI: `cdk` when installed, else through npx (docs/infrastructure.md)."""
    if shutil.which("cdk"):
        return ["cdk"]
    return ["npx", "--yes", "aws-cdk@2"]


def missing(names: Sequence[str]) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def run(
    args: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> None:
    executable = shutil.which(args[0])
    if executable is None:
        raise ToolFailed(f"{args[0]}: not found on PATH")
    result = subprocess.run(  # noqa: S603 - a fixed tool with arguments as a list
        [executable, *args[1:]], cwd=ROOT, input=stdin, text=True, check=False, env=env
    )
    if result.returncode != 0:
        raise ToolFailed(f"`{' '.join(args)}` exited with {result.returncode}")


def output(args: Sequence[str]) -> tuple[int, str]:
    """Run a read-only query (git rev-parse, gh auth status...): exit code and stdout."""
    executable = shutil.which(args[0])
    if executable is None:
        return 127, ""
    result = subprocess.run(  # noqa: S603 - a fixed tool with arguments as a list
        [executable, *args[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout.strip()
