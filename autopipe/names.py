"""The project's physical names, all derived from one project name: `project` in `autopipe.toml`.

The deployer (autopipe/config.py), the CDK app (infra/config.py), the workflows and compose (the
Makefile's `make names`) take every AWS and local name from here, so a fork renames the
project by changing that one line. The package and CLI are called `autopipe` whatever the
project is: that is the tool's name, not a resource's.

For project `auto-pipe` and environment `staging`:

    repository auto-pipe-api        cluster auto-pipe-cluster       service auto-pipe-service
    family     auto-pipe-task       log group /ecs/auto-pipe-app    lock table auto-pipe-locks
    roles      auto-pipe-execution-role · auto-pipe-task-role · auto-pipe-github-deploy
    stacks     AutoPipe-staging · AutoPipe-staging-Bootstrap      prefix auto-pipe-staging
    secrets    auto-pipe/staging/api-keys · auto-pipe/staging/db · auto-pipe/staging/test-traffic
    SSM        /auto-pipe/staging/release/* · /auto-pipe/staging/service/*
    local      image auto-pipe-api:local · compose project auto-pipe

Settings in `autopipe.toml` may use the per-environment names as `{placeholders}` (PLACEHOLDERS
lists them), e.g. `alarms = ["{prefix}-5xx"]`, so the file spells no name twice.

This module is part of the deployer's wheel and imports nothing from infra/: the CDK app imports
it, never the reverse. It needs only the standard library, so the Makefile and the workflows run
it before anything is installed:

    python3 -m autopipe.names repository      # auto-pipe-api
    python3 -m autopipe.names                 # every project-level name, as name=value lines
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autopipe.errors import ConfigError

CONFIG_FILE = "autopipe.toml"
CONFIG_KEY = "project"
# Lowercase words joined by single hyphens: valid in every name below (ECR, IAM, RDS identifiers,
# CloudFormation stacks, DynamoDB, SSM paths, image tags). At most 24 characters keeps the longest
# derived names (e.g. `<project>-production-db`, `<project>-execution-role`) within AWS limits.
PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_LENGTH = 24
PLACEHOLDERS = (
    "project",
    "env",
    "prefix",
    "api_keys_secret",
    "db_secret",
    "release_parameters",
    "service_parameters",
    "test_traffic_secret",
)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def problems(project: str) -> list[str]:
    """What is wrong with a project name (empty: nothing)."""
    if not PATTERN.fullmatch(project):
        return [
            f"project {project!r}: lowercase letters and digits in words joined by single "
            "hyphens, starting with a letter (e.g. acme-shop)"
        ]
    if len(project) > MAX_LENGTH:
        return [f"project {project!r}: at most {MAX_LENGTH} characters"]
    return []


@dataclass(frozen=True)
class Names:
    """Every physical name of one project; per-environment names are methods."""

    project: str
    container: str = "app"
    log_stream_prefix: str = "app"

    # --- one per project (per account) -------------------------------------------------------
    @property
    def title(self) -> str:
        """`auto-pipe` -> `AutoPipe`: the stacks' prefix."""
        return "".join(word.capitalize() for word in self.project.split("-"))

    @property
    def metrics_namespace(self) -> str:
        """The app's CloudWatch metrics (EMF), which the alarms and the dashboard read."""
        return self.title

    @property
    def repository(self) -> str:
        return f"{self.project}-api"

    @property
    def cluster(self) -> str:
        return f"{self.project}-cluster"

    @property
    def service(self) -> str:
        return f"{self.project}-service"

    @property
    def family(self) -> str:
        return f"{self.project}-task"

    @property
    def log_group(self) -> str:
        return f"/ecs/{self.project}-app"

    @property
    def execution_role(self) -> str:
        return f"{self.project}-execution-role"

    @property
    def task_role(self) -> str:
        return f"{self.project}-task-role"

    @property
    def deploy_role(self) -> str:
        return f"{self.project}-github-deploy"

    @property
    def lock_table(self) -> str:
        return f"{self.project}-locks"

    # --- local (Docker, compose) -------------------------------------------------------------
    @property
    def local_image(self) -> str:
        return f"{self.repository}:local"

    @property
    def local_postgres_image(self) -> str:
        return f"{self.project}-postgres:local"

    @property
    def compose_project(self) -> str:
        return self.project

    # --- per environment ---------------------------------------------------------------------
    def prefix(self, env: str) -> str:
        """Alarms, topics, the dashboard, the KMS alias and the database carry this prefix."""
        return f"{self.project}-{env}"

    def stack(self, env: str) -> str:
        return f"{self.title}-{env}"

    def bootstrap_stack(self, env: str) -> str:
        return f"{self.title}-{env}-Bootstrap"

    def api_keys_secret(self, env: str) -> str:
        return f"{self.project}/{env}/api-keys"

    def db_secret(self, env: str) -> str:
        return f"{self.project}/{env}/db"

    def release_parameters(self, env: str) -> str:
        """SSM path of the release record (`image`, `image-tag`, `git-sha`)."""
        return f"/{self.project}/{env}/release"

    def service_parameters(self, env: str) -> str:
        """SSM path of what the service stack publishes for the deployer (the database)."""
        return f"/{self.project}/{env}/service"

    def test_traffic_secret(self, env: str) -> str:
        """Secrets Manager: the test listener rule's header value (blue/green, canary)."""
        return f"{self.project}/{env}/test-traffic"

    def alarm(self, env: str, short: str) -> str:
        return f"{self.prefix(env)}-{short}"

    def placeholders(self, env: str) -> dict[str, str]:
        return {
            "project": self.project,
            "env": env,
            "prefix": self.prefix(env),
            "api_keys_secret": self.api_keys_secret(env),
            "db_secret": self.db_secret(env),
            "release_parameters": self.release_parameters(env),
            "service_parameters": self.service_parameters(env),
            "test_traffic_secret": self.test_traffic_secret(env),
        }

    def expand(self, text: str, env: str) -> str:
        """`{prefix}-5xx` -> `auto-pipe-staging-5xx`; other braces are left as they are."""
        values = self.placeholders(env)
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    def single(self) -> dict[str, str]:
        """The names that do not depend on the environment, by setting name."""
        return {key: getattr(self, key) for key in SINGLE}


SINGLE = (
    "project", "title", "metrics_namespace", "repository", "cluster", "service", "family",
    "container", "log_group", "log_stream_prefix", "execution_role", "task_role", "deploy_role",
    "lock_table", "local_image", "local_postgres_image", "compose_project",
)  # fmt: skip


def unexpanded(text: str) -> list[str]:
    """The placeholders left in `text` (there is no project to fill them from)."""
    return _PLACEHOLDER.findall(text)


def read_project(path: Path) -> str:
    """`project` from an `autopipe.toml`, checked."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    project = data.get(CONFIG_KEY)
    if not isinstance(project, str):
        raise ConfigError(f'{path}: set `{CONFIG_KEY} = "<name>"` (every name derives from it)')
    if found := problems(project):
        raise ConfigError(f"{path}: {'; '.join(found)}")
    return project


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autopipe.names",
        description="The physical names autopipe.toml's project gives.",
    )
    parser.add_argument("name", nargs="?", choices=SINGLE, help="print just this one")
    parser.add_argument("--config", type=Path, default=Path(CONFIG_FILE))
    args = parser.parse_args(argv)
    try:
        names = Names(read_project(args.config)).single()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = [names[args.name]] if args.name else [f"{k}={v}" for k, v in names.items()]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
