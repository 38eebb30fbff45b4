"""Per-environment values, in one place. Everything a stack varies on is here.

The physical names are not: they derive from the project's name, `project` in `autopipe.toml`,
through autopipe/names.py, the module the deployer uses too, so the stacks and the deployer
cannot disagree and a fork renames everything in that one line. Each environment lives in its
own AWS account (IAM role names, the cluster and the log group are fixed names, so two
environments cannot share an account).

CDK context overrides any field per environment, e.g.
`-c production:certificate_arn=arn:aws:acm:... -c staging:account=111111111111` (not the project:
that is `autopipe.toml`'s, for the deployer and the stacks alike).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopipe import names as physical
from autopipe.errors import ConfigError as DeployerConfigError
from autopipe.names import Names
from infra.errors import ConfigError

__all__ = ["Names"]  # re-exported: the constructs take the names from here
ENVIRONMENT_NAMES = ("staging", "production")
ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = ROOT / "cdk.json"
PROJECT_CONFIG = ROOT / physical.CONFIG_FILE


def checked_in_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """cdk.json's context: what the CDK CLI passes, for a synthesis without the CLI."""
    context: dict[str, Any] = json.loads(path.read_text()).get("context", {})
    return context


@functools.cache
def checked_in_project(path: Path = PROJECT_CONFIG) -> str:
    """`project` in autopipe.toml: the name every physical name derives from."""
    try:
        return physical.read_project(path)
    except DeployerConfigError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass(frozen=True, kw_only=True)
class Slo:
    """30-day SLOs measured at the load balancer (docs/infrastructure.md explains them)."""

    window_days: int = 30
    availability: float = 0.999  # share of requests answered without a 5xx
    latency_ms: int = 300  # threshold of a "fast" request...
    latency: float = 0.99  # ...and the share of requests that must be fast (p99 <= 300 ms)


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    name: str
    region: str = "eu-west-1"
    account: str | None = None  # None: the account of the credentials `cdk deploy` uses
    availability_zones: tuple[str, ...] = ("eu-west-1a", "eu-west-1b")
    vpc_cidr: str = "10.0.0.0/16"
    # Cheap option: tasks in public subnets with a public IP, no NAT gateway (docs: cost).
    public_task_subnets: bool = False
    nat_gateways: int = 1
    # The service.
    app_env: str = "staging"
    app_log_level: str = "INFO"
    cpu_architecture: str = "X86_64"
    min_tasks: int = 1  # the desired count's floor (autoscaling owns the desired count)
    max_tasks: int = 2
    cpu_target_percent: int = 60
    requests_per_target_per_minute: int = 3000
    health_check_grace_seconds: int = 60
    enable_execute_command: bool = False
    # The load balancer. TLS: a certificate ARN (imported from ACM), or a Route 53 hosted zone
    # in which the stack creates a DNS-validated certificate and the alias record. Either way
    # `domain_name` is the service's address (the smoke URL); without TLS the ALB serves plain
    # HTTP on its own DNS name, which only staging may do.
    certificate_arn: str | None = None
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    # Paths the ALB answers 404 itself: scraped from inside the task, never from the internet.
    internal_paths: tuple[str, ...] = ("/metrics", "/metrics/*")
    load_balancer_deletion_protection: bool = False
    access_log_days: int = 90
    # The database.
    db_instance_type: str = "t4g.micro"
    db_storage_gib: int = 20
    db_max_storage_gib: int = 100
    db_multi_az: bool = False
    db_backup_days: int = 7
    deletion_protection: bool = False
    # Registry, logs, alerting.
    ecr_keep_tagged: int = 30
    # The image is pushed once (to staging's registry); production's registry receives it by
    # ECR replication, digests intact: set the destination account on the source environment
    # and the source account on the destination one.
    ecr_replicate_to_account: str | None = None
    ecr_replicate_from_account: str | None = None
    log_retention_days: int = 30
    alarm_email: str = ""  # default of the stack's email parameters; empty = no subscription
    # Slack through AWS Chatbot: both ids set = both alarm topics post to that channel.
    slack_workspace_id: str | None = None  # "T0..." (the workspace authorized in the console)
    slack_channel_id: str | None = None  # "C0..." (the channel's id, not its name)
    slo: Slo = field(default_factory=Slo)
    # GitHub OIDC: the deploy role trusts exactly this repository and GitHub environment.
    github_repository: str = ""  # empty: example-org/<project>, an example to override
    github_environment: str = ""  # defaults to the environment's name
    create_oidc_provider: bool = True  # False when the account already has the provider
    project: str = field(default_factory=checked_in_project)
    # --- deployment strategy (docs/deployer.md#strategies); autopipe.toml must agree ---
    deployment_strategy: str = "rolling"  # rolling | blue_green | canary | linear
    bake_minutes: int = 0
    canary_percent: float = 5.0
    canary_bake_minutes: int = 10
    linear_step_percent: float = 10.0
    linear_step_minutes: int = 6
    test_gate_minutes: int = 30  # the PAUSE hook's timeout at POST_TEST_TRAFFIC_SHIFT
    # --- end of the strategy block ---

    def __post_init__(self) -> None:
        if not self.github_repository:
            object.__setattr__(self, "github_repository", f"example-org/{self.project}")
        _validate(self)

    @property
    def names(self) -> Names:
        """The physical names (autopipe/names.py), the deployer's too."""
        return Names(self.project)

    @property
    def tls(self) -> bool:
        return bool(self.certificate_arn or self.hosted_zone_id)

    @property
    def url(self) -> str | None:
        """The public URL, when the configuration knows it (TLS on a domain name)."""
        return f"https://{self.domain_name}" if self.tls else None

    @property
    def slack(self) -> bool:
        return bool(self.slack_workspace_id and self.slack_channel_id)

    # Names derived from the project and the environment: the deployer derives the same ones.
    @property
    def prefix(self) -> str:
        return self.names.prefix(self.name)

    @property
    def stack_name(self) -> str:
        return self.names.stack(self.name)

    @property
    def bootstrap_stack_name(self) -> str:
        return self.names.bootstrap_stack(self.name)

    @property
    def api_keys_secret_name(self) -> str:
        return self.names.api_keys_secret(self.name)

    @property
    def db_secret_name(self) -> str:
        return self.names.db_secret(self.name)

    @property
    def release_parameter_prefix(self) -> str:
        """SSM parameters holding what the deployer last shipped (image, image-tag, git-sha)."""
        return self.names.release_parameters(self.name)

    @property
    def service_parameter_prefix(self) -> str:
        """SSM parameters the service stack writes for the deployer (the database's address),
        so `autopipe.toml` names them instead of copying values: read-only to the deploy role."""
        return self.names.service_parameters(self.name)

    @property
    def github_subject(self) -> str:
        environment = self.github_environment or self.name
        return f"repo:{self.github_repository}:environment:{environment}"

    def alarm_name(self, short: str) -> str:
        return self.names.alarm(self.name, short)

    # --- deployment strategy: the test listener rule's header value (a secret the stack makes,
    # the deployer reads; autopipe.toml's test_header_secret) ---
    @property
    def test_traffic_secret_name(self) -> str:
        return self.names.test_traffic_secret(self.name)


def load(name: str, context: Callable[[str], Any] | None = None) -> EnvironmentConfig:
    """The named environment with `<name>:<field>` context values applied."""
    if name not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {name!r} (known: {', '.join(ENVIRONMENTS)})")
    base = ENVIRONMENTS[name]
    if context is None:
        return base
    overrides: dict[str, Any] = {}
    for f in dataclasses.fields(base):
        raw = context(f"{name}:{f.name}")
        if raw is not None and f.name not in ("name", "project", "slo"):
            overrides[f.name] = _coerce(f.name, getattr(base, f.name), raw)
    return dataclasses.replace(base, **overrides) if overrides else base


def _coerce(name: str, current: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        return tuple(raw) if isinstance(current, tuple) else raw
    if isinstance(current, bool):
        if raw.lower() not in ("true", "false"):
            raise ConfigError(f"{name}: expected true or false, got {raw!r}")
        return raw.lower() == "true"
    if isinstance(current, int | float):
        return type(current)(raw)
    if isinstance(current, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if current is None:  # optional strings: empty means unset
        return raw or None
    return raw


def _validate(c: EnvironmentConfig) -> None:
    problems = physical.problems(c.project)
    if len(c.availability_zones) != 2 or not all(
        az.startswith(c.region) for az in c.availability_zones
    ):
        problems.append(f"availability_zones: two AZs of {c.region}")
    if not 1 <= c.min_tasks <= c.max_tasks:
        problems.append("1 <= min_tasks <= max_tasks")
    if not c.public_task_subnets and c.nat_gateways < 1:
        problems.append("private task subnets need nat_gateways >= 1")
    if c.cpu_architecture not in ("X86_64", "ARM64"):
        problems.append("cpu_architecture: X86_64 or ARM64")
    if c.github_repository.count("/") != 1 or "*" in c.github_repository:
        problems.append("github_repository: OWNER/REPO, no wildcards")
    problems += _edge_problems(c)
    problems += _strategy_problems(c)
    if c.name == "production":
        # The production guarantees: no config can quietly drop them.
        if c.min_tasks < 2:
            problems.append("production runs at least 2 tasks")
        if not (c.deletion_protection and c.db_multi_az):
            problems.append("production keeps deletion protection and a Multi-AZ database")
        if c.enable_execute_command:
            problems.append("production never enables ECS Exec")
    if problems:
        raise ConfigError(f"environment {c.name}: " + "; ".join(problems))


def _edge_problems(c: EnvironmentConfig) -> list[str]:
    """TLS, DNS, Slack: the settings that only make sense together."""
    problems = []
    if c.tls and not c.domain_name:
        problems.append("TLS needs domain_name (the name the certificate and the URL carry)")
    if c.hosted_zone_id and not c.hosted_zone_name:
        problems.append("hosted_zone_id needs hosted_zone_name (e.g. example.com)")
    if c.hosted_zone_name and c.domain_name and not _within(c.domain_name, c.hosted_zone_name):
        problems.append(f"domain_name {c.domain_name} is not in the zone {c.hosted_zone_name}")
    if c.domain_name and not c.tls:
        problems.append("domain_name needs certificate_arn or hosted_zone_id (HTTPS only)")
    if bool(c.slack_workspace_id) != bool(c.slack_channel_id):
        problems.append("Slack needs both slack_workspace_id and slack_channel_id")
    if not all(p.startswith("/") for p in c.internal_paths):
        problems.append("internal_paths are absolute paths")
    return problems


STRATEGIES = ("rolling", "blue_green", "canary", "linear")


def _strategy_problems(c: EnvironmentConfig) -> list[str]:
    """The ranges ECS accepts (the same rules as autopipe/config.py's strategy_problems)."""
    problems = []
    if c.deployment_strategy not in STRATEGIES:
        problems.append(f"deployment_strategy: one of {', '.join(STRATEGIES)}")
    for name in ("bake_minutes", "canary_bake_minutes", "linear_step_minutes"):
        if not 0 <= getattr(c, name) <= 1440:
            problems.append(f"{name}: 0..1440")
    if not 0.1 <= c.canary_percent <= 100.0:
        problems.append("canary_percent: 0.1..100")
    if not 3.0 <= c.linear_step_percent <= 100.0:
        problems.append("linear_step_percent: 3..100")
    if not 1 <= c.test_gate_minutes <= 20160:
        problems.append("test_gate_minutes: 1..20160")
    return problems


def _within(domain: str, zone: str) -> bool:
    domain, zone = domain.rstrip(".").lower(), zone.rstrip(".").lower()
    return domain == zone or domain.endswith(f".{zone}")


def link(environments: Sequence[EnvironmentConfig]) -> list[EnvironmentConfig]:
    """What one environment needs from another, checked over the whole app:
    - with both accounts known and different, ECR replication staging -> production is on
      (unless configured otherwise), so production can pull the digest staging built;
    - production refuses to synthesize without TLS, or when it cannot reach the image."""
    by_name = {e.name: e for e in environments}
    staging, production = by_name.get("staging"), by_name.get("production")
    accounts = (staging.account if staging else None, production.account if production else None)
    if staging and production and all(accounts) and accounts[0] != accounts[1]:
        if staging.ecr_replicate_to_account is None:
            staging = dataclasses.replace(staging, ecr_replicate_to_account=production.account)
        if production.ecr_replicate_from_account is None:
            production = dataclasses.replace(production, ecr_replicate_from_account=staging.account)
    if production is not None:
        _check_production(production, staging)
    linked = {"staging": staging, "production": production}
    return [linked.get(e.name) or e for e in environments]


def _check_production(p: EnvironmentConfig, staging: EnvironmentConfig | None) -> None:
    problems = []
    if not p.tls:
        problems.append(
            "production serves HTTPS only: set production:domain_name and either "
            "production:certificate_arn (an ACM certificate for it) or production:hosted_zone_id "
            "+ production:hosted_zone_name (the stack then creates the certificate and the "
            "DNS record), e.g. in cdk.json's context"
        )
    source = staging.account if staging else p.ecr_replicate_from_account
    reachable = source is not None and source in {p.account, p.ecr_replicate_from_account}
    if not reachable:
        problems.append(
            "production cannot pull the image staging pushes: set staging:account and "
            "production:account (with two accounts, ECR replication between them is then on "
            "by default), or production:ecr_replicate_from_account to the account that pushes"
        )
    if problems:
        raise ConfigError("environment production: " + "; ".join(problems))


STAGING = EnvironmentConfig(
    name="staging",
    app_env="staging",
    vpc_cidr="10.10.0.0/16",
    nat_gateways=1,
    min_tasks=1,
    max_tasks=2,
    enable_execute_command=True,
    db_backup_days=3,
    log_retention_days=30,
    # Blue/green: the release is smoke-tested on the test listener before any request reaches
    # it, and the switch is whole; staging's traffic is too thin for a canary to say anything.
    deployment_strategy="blue_green",
    bake_minutes=2,
)

PRODUCTION = EnvironmentConfig(
    name="production",
    app_env="production",
    vpc_cidr="10.20.0.0/16",
    nat_gateways=2,  # one per AZ: an AZ outage does not cut the other AZ's egress
    min_tasks=2,
    max_tasks=6,
    enable_execute_command=False,
    load_balancer_deletion_protection=True,
    db_instance_type="t4g.small",
    db_multi_az=True,
    db_backup_days=14,
    deletion_protection=True,
    log_retention_days=90,
    access_log_days=365,
    # Canary after the same pre-traffic gate: what a synthetic smoke test cannot catch reaches
    # 5 % of real users for 10 minutes, with the old tasks kept 10 minutes more.
    deployment_strategy="canary",
    canary_percent=5.0,
    canary_bake_minutes=10,
    bake_minutes=10,
)

ENVIRONMENTS = {"staging": STAGING, "production": PRODUCTION}
