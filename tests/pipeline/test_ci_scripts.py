"""The CI glue in scripts/ci: the deploy preflight and the scan summary."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.pipeline.workflows import ROOT

STAGING_ROLE = "arn:aws:iam::123456789012:role/auto-pipe-staging-deploy"
PRODUCTION_ROLE = "arn:aws:iam::210987654321:role/auto-pipe-production-deploy"
ALL_SET = {
    "AWS_REGION": "eu-west-1",
    "AWS_STAGING_ROLE_ARN": STAGING_ROLE,
    "AWS_PRODUCTION_ROLE_ARN": PRODUCTION_ROLE,
}
DIGEST = "sha256:" + "ab" * 32


def run_script(
    name: str, *args: str, env: dict[str, str], cwd: Path = ROOT
) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci" / name), *args],
        cwd=cwd, capture_output=True, text=True, timeout=30, check=False,
        env={**clean, **env},
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def preflight(tmp_path: Path, **env: str) -> tuple[int, str, str]:
    output = tmp_path / "github_output"
    code, stdout, _ = run_script("preflight.sh", env={"GITHUB_OUTPUT": str(output), **env})
    return code, stdout, output.read_text() if output.exists() else ""


def test_preflight_without_any_variable_turns_deploys_off_with_a_notice(tmp_path: Path) -> None:
    code, stdout, outputs = preflight(tmp_path)
    assert code == 0
    assert "::notice title=Deploys are off::" in stdout
    assert outputs == "configured=false\n"


@pytest.mark.parametrize("image", ["", DIGEST])
def test_preflight_with_everything_set_says_configured(tmp_path: Path, image: str) -> None:
    code, stdout, outputs = preflight(tmp_path, **ALL_SET, IMAGE_INPUT=image)
    assert code == 0, stdout
    assert outputs == "configured=true\n"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"AWS_PRODUCTION_ROLE_ARN": ""}, "AWS_PRODUCTION_ROLE_ARN is not set"),
        ({"AWS_REGION": "Ireland"}, "is not a region name"),
        ({"AWS_STAGING_ROLE_ARN": "auto-pipe-deploy"}, "AWS_STAGING_ROLE_ARN is not an IAM role"),
        ({"IMAGE_INPUT": "auto-pipe-api:latest"}, "must be a digest"),
        ({"IMAGE_INPUT": "sha256:abc"}, "must be a digest"),
    ],
)
def test_preflight_refuses_a_partial_or_malformed_setup(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    code, stdout, outputs = preflight(tmp_path, **{**ALL_SET, **overrides})
    assert code == 1
    assert "::error title=Deploy setup::" in stdout
    assert message in stdout
    assert outputs == "configured=false\n"


def test_scan_summary_shows_each_platform_report(tmp_path: Path) -> None:
    (tmp_path / "trivy-linux-amd64.txt").write_text("Total: 1 (HIGH: 1)\nCVE-2099-0001\n")
    (tmp_path / "trivy-linux-arm64.txt").write_text("")
    summary = tmp_path / "summary.md"
    code, _, stderr = run_script(
        "scan-summary.sh", "trivy-linux-amd64.txt", "trivy-linux-arm64.txt",
        env={"GITHUB_STEP_SUMMARY": str(summary)}, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, stderr
    text = summary.read_text()
    assert "#### linux/amd64\n\n```\nTotal: 1 (HIGH: 1)\nCVE-2099-0001\n```" in text
    assert "#### linux/arm64\n\nNo findings at the gated severities." in text


def test_scan_summary_without_reports_says_the_scan_did_not_run(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    code, _, _ = run_script(
        "scan-summary.sh", "trivy-*.txt", env={"GITHUB_STEP_SUMMARY": str(summary)}, cwd=tmp_path
    )
    assert code == 0
    assert "the scan did not run" in summary.read_text()
