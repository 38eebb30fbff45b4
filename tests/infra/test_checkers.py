"""The three checkers on the synthesized templates (through `infra.check`, the code behind
`make infra-check`): zero findings each, and every written exception carries its reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs

from infra import check
from infra.app import build_app
from tests.conftest import unavailable
from tests.infra.conftest import Synth

MIN_REASON = 20


def test_cdk_nag_has_no_unacknowledged_findings(synth: Synth) -> None:
    assert synth.error is None, synth.error
    assert check.cdk_nag(synth.outdir).findings == []


def test_every_cdk_nag_acknowledgment_has_a_reason(synth: Synth) -> None:
    acknowledged = check.cdk_nag(synth.outdir).excepted
    assert len(acknowledged) > 10
    assert {k: v for k, v in acknowledged.items() if len(v) < MIN_REASON} == {}


def test_cdk_nag_is_wired_into_the_app(tmp_path: Path) -> None:
    """Control: the same app factory fails synthesis on a finding nobody acknowledged."""
    app = build_app(outdir=str(tmp_path), environments=[])
    sqs.Queue(Stack(app, "Control"), "Unencrypted", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    rules = {f.split()[0] for f in check.cdk_nag(tmp_path).findings}
    assert "AwsSolutions-SQS3" in rules  # no dead-letter queue


@pytest.fixture(scope="module")
def linters(synth: Synth) -> dict[str, check.Findings]:
    # The coverage run measures the app only: keep it out of the checkers' interpreters.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    try:
        return {f.checker: f for f in check.run_linters(synth.outdir, env)}
    except check.ToolMissing as exc:
        unavailable("the checkers", exc)


@pytest.mark.parametrize("checker", ["cfn-lint", "checkov"])
def test_linter_finds_nothing(linters: dict[str, check.Findings], checker: str) -> None:
    assert linters[checker].findings == []


@pytest.mark.parametrize("checker", ["cfn-lint", "checkov"])
def test_every_linter_exception_has_a_reason(
    linters: dict[str, check.Findings], checker: str
) -> None:
    excepted = linters[checker].excepted
    assert excepted
    assert {k: v for k, v in excepted.items() if len(v) < MIN_REASON} == {}


def test_checkov_checked_the_templates(linters: dict[str, check.Findings]) -> None:
    assert linters["checkov"].passed > 100


def test_the_report_lines(synth: Synth, linters: dict[str, check.Findings]) -> None:
    lines = [check.cdk_nag(synth.outdir).line(), *(f.line() for f in linters.values())]
    assert all(" 0 findings" in line for line in lines), lines
