"""The CDK app: per environment a bootstrap stack (once per account) and the service stack.

    make synth                                  # = python -m infra.app -> infra/cdk.out
    npx aws-cdk@2 --app "uv run python -m infra.app" --output infra/cdk.out deploy STACK

cdk-nag's AwsSolutions pack runs at every synthesis: an unacknowledged finding fails it.
Per-environment values come from cdk.json's `context` (the CDK CLI passes it; `make synth`
reads the same file), whose checked-in values are examples: production refuses to synthesize
without TLS or without a way to reach the image (infra/config.py), so the example has both.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import config as cfg
from infra import taskdef_template
from infra.stacks.bootstrap import BootstrapStack
from infra.stacks.service import ServiceStack

# Feature flags pinned here (not in cdk.json) so tests and the CLI synthesize the same thing.
FEATURE_FLAGS: Mapping[str, Any] = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    # No DesiredCount in the template: autoscaling owns it, so an infra deploy never resets a
    # scaled-out service (its minimum is the environment's floor: 2 in production).
    "@aws-cdk/aws-ecs:removeDefaultDesiredCount": True,
    "@aws-cdk/aws-ecs:arnFormatIncludesClusterName": True,
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": False,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
}
TAGS = {"managed-by": "aws-cdk"}  # and `project` (autopipe.toml's) and `environment`


def build_app(
    *,
    outdir: str | None = None,
    context: Mapping[str, Any] | None = None,
    environments: Sequence[cfg.EnvironmentConfig] | None = None,
    template_path: Path = taskdef_template.DEFAULT_PATH,
    nag: bool = True,
) -> cdk.App:
    app = cdk.App(outdir=outdir, context={**FEATURE_FLAGS, **(context or {})})
    if environments is None:
        # `-c environments=staging` synthesizes one environment only (setup.sh does, so another
        # environment's example values in cdk.json never reach the one being set up).
        names = str(app.node.try_get_context("environments") or ",".join(cfg.ENVIRONMENT_NAMES))
        environments = [
            cfg.load(name.strip(), app.node.try_get_context) for name in names.split(",")
        ]
    environments = cfg.link(environments)
    template = taskdef_template.load(template_path)
    for env in environments:
        add_environment(app, env, template)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def add_environment(
    app: cdk.App, env: cfg.EnvironmentConfig, template: Mapping[str, Any]
) -> tuple[BootstrapStack, ServiceStack]:
    where = cdk.Environment(account=env.account, region=env.region)
    bootstrap = BootstrapStack(
        app,
        env.bootstrap_stack_name,
        config=env,
        env=where,
        description=f"{env.project} {env.name}: GitHub OIDC, deploy role, image repository",
        termination_protection=True,
    )
    service = ServiceStack(
        app,
        env.stack_name,
        config=env,
        template=template,
        env=where,
        description=f"{env.project} {env.name}: network, data, service, alarms, dashboard",
        termination_protection=env.name == "production",
    )
    for stack in (bootstrap, service):
        for key, value in {**TAGS, "project": env.project, "environment": env.name}.items():
            cdk.Tags.of(stack).add(key, value)
    return bootstrap, service


def main() -> None:
    # The CDK CLI sets CDK_OUTDIR; `make synth` sets it too. Default: infra/cdk.out.
    outdir = os.environ.get("CDK_OUTDIR") or str(taskdef_template.ROOT / "infra" / "cdk.out")
    # Under the CLI, CDK_CONTEXT_JSON already holds cdk.json's context (and any -c values).
    from_cli = {"CDK_CONTEXT_JSON", "CONTEXT_OVERFLOW_LOCATION_ENV"} & set(os.environ)
    context = None if from_cli else cfg.checked_in_context()
    build_app(outdir=outdir, context=context).synth()


if __name__ == "__main__":
    main()
