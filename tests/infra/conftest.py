"""The CDK app synthesized once per session as `make synth` does (cdk.json's example context:
staging and production on their own domains and accounts, with TLS from a Route 53 zone), plus
a test-only environment `cheap`: staging with the public-subnet option, plain HTTP (no domain),
Slack alerts and ECR replication both ways, and `imported`: production's settings with an
imported certificate; so both network layouts, all listener layouts and the registry-level
resources are synthesized and checked.

Outside CI a missing toolchain leaves these tests out (test_toolchain.py reports it as a skip);
with CI=true it is an error, never a skip.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROOT = Path(__file__).resolve().parents[2]
TEST_CERTIFICATE = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-test"
SLACK: dict[str, Any] = {
    "slack_workspace_id": "T0TESTWORKSPACE",
    "slack_channel_id": "C0TESTCHANNEL",
}
NEEDED = ("aws_cdk", "cdk_nag", "constructs", "boto3", "moto")

missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if missing and IN_CI:
    raise RuntimeError(f"CI must run the infra tests; missing: {', '.join(missing)}")
if missing:
    collect_ignore = [
        p.name for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_toolchain.py"
    ]


@dataclass(frozen=True)
class Synth:
    app: Any  # aws_cdk.App, already synthesized
    outdir: Path
    templates: dict[str, dict[str, Any]]
    error: str | None  # what app.synth() raised (cdk-nag findings fail it)
    report: dict[str, Any]

    def template(self, stack: str) -> dict[str, Any]:
        return self.templates[stack]

    def assertions(self, stack: str) -> Any:
        """`aws_cdk.assertions.Template` of a stack (reuses the cached assembly)."""
        from aws_cdk import Stack  # noqa: PLC0415 - after the toolchain check above
        from aws_cdk.assertions import Template  # noqa: PLC0415

        found = self.app.node.find_child(stack)
        assert isinstance(found, Stack)
        return Template.from_stack(found)

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        found = self.templates[stack]["Resources"].items()
        return {k: v for k, v in found if v["Type"] == type_}

    def one(self, stack: str, type_: str) -> dict[str, Any]:
        found = list(self.resources(stack, type_).values())
        assert len(found) == 1, f"{stack}: expected one {type_}, found {len(found)}"
        return found[0]["Properties"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    from infra import config  # noqa: PLC0415 - after the toolchain check above
    from infra.app import build_app  # noqa: PLC0415
    from infra.config import checked_in_context  # noqa: PLC0415

    context = checked_in_context()
    example = [config.load(name, context.get) for name in config.ENVIRONMENT_NAMES]
    cheap = dataclasses.replace(
        config.STAGING,
        name="cheap",
        public_task_subnets=True,
        ecr_replicate_to_account="222222222222",
        ecr_replicate_from_account="111111111111",
        **SLACK,
    )
    imported = dataclasses.replace(
        example[1],
        name="imported",
        certificate_arn=TEST_CERTIFICATE,
        hosted_zone_id=None,
        hosted_zone_name=None,
    )
    environments = [*example, cheap, imported]
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(outdir=str(outdir), environments=environments)
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # jsii surfaces the validation failure as RuntimeError
        error = str(exc)
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return Synth(app, outdir, templates, error, report)
