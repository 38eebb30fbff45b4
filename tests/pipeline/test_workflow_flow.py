"""What ci.yml and deploy.yml do: triggers, the jobs a developer can replay, one multi-arch
image, the scan gate, the same digest to production, announcements."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from autopipe.cli import app
from autopipe.config import load_settings
from tests.pipeline.workflows import (
    ROOT,
    all_steps,
    assumes_aws_role,
    load,
    one_step,
    run_steps,
    steps,
)

DEPLOY_JOBS = {"staging": "staging", "production": "production"}


# --- ci.yml --------------------------------------------------------------------------------


def test_ci_runs_on_push_and_pull_request_and_cancels_superseded_runs() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(ci.triggers)
    concurrency = ci.data["concurrency"]
    assert concurrency["cancel-in-progress"] is True
    assert "github.ref" in concurrency["group"]
    assert "pull_request.number" in concurrency["group"]
    assert "github.workflow" not in concurrency["group"]  # would deadlock when called


@pytest.mark.parametrize(
    ("job_id", "commands"),
    [
        ("lint", ["make lint"]),
        ("test", ["make test", "make coverage-report"]),
        ("container", ["make runner-docker", "make image", "make container-test"]),
        ("infra", ["make synth", "make infra-check"]),
        ("workflows", ["make workflow-check"]),
    ],
)
def test_ci_jobs_run_the_targets_a_developer_runs(job_id: str, commands: list[str]) -> None:
    runs = run_steps(load("ci.yml"), job_id)
    for command in commands:
        assert any(run.startswith(command) for run in runs), f"ci.yml > {job_id}: {command}"


def test_ci_tests_publish_coverage_even_when_they_fail() -> None:
    ci = load("ci.yml")
    upload = one_step(ci, "test", "actions/upload-artifact")
    assert "coverage.xml" in upload.with_["path"]
    assert "cancelled()" in upload.data["if"]


# --- deploy.yml ----------------------------------------------------------------------------


def test_deploy_runs_after_ci_on_main_and_on_dispatch() -> None:
    deploy = load("deploy.yml")
    assert deploy.triggers["push"] == {"branches": ["main"]}
    inputs = deploy.triggers["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["staging", "production"]
    assert inputs["action"]["options"] == ["deploy", "rollback"]
    assert inputs["image"]["required"] is False
    assert deploy.jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert "ci" in deploy.jobs["image"]["needs"]
    assert "needs.ci.result == 'success'" in deploy.jobs["image"]["if"]
    assert "ci.yml" not in str(deploy.triggers)  # not workflow_run: no privileged trigger


def test_the_image_is_built_once_for_both_architectures_and_pushed_by_commit() -> None:
    deploy = load("deploy.yml")
    builds = [s for s in all_steps() if s.action == "docker/build-push-action"]
    assert len(builds) == 1
    assert builds[0].job == "image"
    build = builds[0].with_
    assert set(str(build["platforms"]).split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["push"] is True
    assert build["context"] == "."
    assert str(build["tags"]).endswith(":${{ github.sha }}")
    assert str(build["provenance"]).startswith("mode=")
    assert build["sbom"] is True
    assert "type=gha" in build["cache-from"]
    assert "type=gha" in build["cache-to"]
    actions = [s.action for s in steps(deploy, "image")]
    assert actions.index("docker/setup-qemu-action") < actions.index("docker/build-push-action")
    assert actions.index("docker/setup-buildx-action") < actions.index("docker/build-push-action")
    assert "steps.build.outputs.digest" in deploy.jobs["image"]["outputs"]["digest"]


def test_the_scan_gate_fails_on_fixable_critical_and_high_before_any_deploy() -> None:
    deploy = load("deploy.yml")
    policy = yaml_policy()
    scans = [s for s in steps(deploy, "image") if s.action == "aquasecurity/trivy-action"]
    assert {s.env["TRIVY_PLATFORM"] for s in scans} == {"linux/amd64", "linux/arm64"}
    for scan in scans:
        w = scan.with_
        assert "@${{ steps.build.outputs.digest" in w["image-ref"]  # by digest
        assert w["trivy-config"] == ".github/trivy.yaml"
        assert str(w["exit-code"]) == "1" == str(policy["exit-code"])
        assert set(str(w["severity"]).split(",")) == {"CRITICAL", "HIGH"} == set(policy["severity"])
        assert w["ignore-unfixed"] is True is policy["vulnerability"]["ignore-unfixed"]
    names = [s.action or str(s.data.get("run")) for s in steps(deploy, "image")]
    assert names.index("docker/build-push-action") < names.index("aquasecurity/trivy-action")
    upload = one_step(deploy, "image", "actions/upload-artifact")
    assert upload.with_["path"] == "trivy-*.txt"
    assert "cancelled()" in upload.data["if"]
    assert deploy.jobs["staging"]["needs"] == "image"


def yaml_policy() -> dict[str, Any]:
    policy: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "trivy.yaml").read_text())
    return policy


def test_production_gets_exactly_the_digest_staging_was_deployed_with() -> None:
    jobs = load("deploy.yml").jobs
    staging, production = jobs["staging"], jobs["production"]
    assert staging["env"]["IMAGE_DIGEST"] == "${{ needs.image.outputs.digest }}"
    assert staging["outputs"]["digest"] == "${{ env.IMAGE_DIGEST }}"
    assert production["needs"] == "staging"
    assert production["env"]["IMAGE_DIGEST"] == "${{ needs.staging.outputs.digest }}"
    assert "needs.staging.result == 'success'" in production["if"]
    for job_id in DEPLOY_JOBS:
        deploys = [r for r in run_steps(load("deploy.yml"), job_id) if "autopipe deploy" in r]
        assert len(deploys) == 1
        # What the deployer's own CLI makes of the step, with the runner's variables filled in.
        params = deploy_params(deploys[0], IMAGE_DIGEST="sha256:" + "ab" * 32)
        assert params["env"] == job_id
        assert params["digest"] == "sha256:" + "ab" * 32


def deploy_params(run: str, **variables: str) -> dict[str, Any]:
    """Parse a workflow's `uv run autopipe deploy …` line with the real Typer/Click parser."""
    words = shlex.split(run)
    assert words[:3] == ["uv", "run", "autopipe"]
    args = [re.sub(r"\$(\w+)", lambda m: variables.get(m[1], m[0]), w) for w in words[3:]]
    assert args[0] == "deploy"
    group = typer.main.get_command(app)
    with group.make_context("autopipe", [], resilient_parsing=True) as ctx:
        command = group.get_command(ctx, "deploy")  # type: ignore[attr-defined]
        assert command is not None
        with command.make_context("deploy", args[1:], parent=ctx) as sub:
            return dict(sub.params)


def test_deploy_jobs_have_their_environment_and_never_cancel_a_deploy() -> None:
    jobs = load("deploy.yml").jobs
    for job_id, environment in DEPLOY_JOBS.items():
        job = jobs[job_id]
        assert job["environment"] == environment
        assert job["concurrency"] == {"group": f"deploy-{environment}", "cancel-in-progress": False}
    rollback = jobs["rollback"]
    assert rollback["environment"] == "${{ inputs.environment }}"
    assert rollback["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert "concurrency" not in load("deploy.yml").data  # a run waiting for approval blocks none
    for job_id, job in jobs.items():
        if assumes_aws_role(job):
            assert job.get("environment"), f"{job_id}: the role trusts GitHub environments only"


def test_the_production_role_is_only_used_in_production() -> None:
    for step in all_steps():
        role = str(step.with_.get("role-to-assume", ""))
        if "AWS_PRODUCTION_ROLE_ARN" in role and step.job != "production":
            assert step.job == "rollback"
            assert "inputs.environment == 'production'" in role


def test_deploys_and_failures_are_announced() -> None:
    deploy = load("deploy.yml")
    for step in steps(deploy):
        if str(step.data.get("run", "")).startswith("uv run autopipe "):
            assert step.env.get("SLACK_WEBHOOK_URL") == "${{ secrets.SLACK_WEBHOOK_URL }}"
    notify = deploy.jobs["notify"]
    assert str(notify["if"]).startswith("always()")
    assert set(notify["needs"]) == set(deploy.jobs) - {"notify"}
    assert any(r.startswith("uv run autopipe notify ") for r in run_steps(deploy, "notify"))


def test_the_image_is_pushed_to_the_repository_autopipe_deploys_from(tmp_path: Path) -> None:
    """The image job takes the repository from `make names` (run here as Actions runs it,
    writing to $GITHUB_OUTPUT), which must be the one the deployer's settings name."""
    deploy = load("deploy.yml")
    (names,) = [s for s in steps(deploy, "image") if s.data.get("id") == "names"]
    output = tmp_path / "github_output"
    subprocess.run(
        shlex.split(str(names.data["run"])),
        cwd=ROOT,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        check=True,
        capture_output=True,
    )
    written = dict(line.split("=", 1) for line in output.read_text().splitlines())
    deployer = load_settings(config=ROOT / "autopipe.toml", env="production", environ={})
    assert written["repository"] == deployer.repository
    build = one_step(deploy, "image", "docker/build-push-action")
    ref = "${{ steps.names.outputs.repository }}"
    assert str(build.with_["tags"]).startswith(f"${{{{ steps.ecr.outputs.registry }}}}/{ref}:")
    assert "repository" not in json.dumps(deploy.data.get("env", {})).lower()
    images = [s for s in steps(deploy, "image") if "image-ref" in s.with_]
    assert images
    assert all(f"/{ref}@" in str(s.with_["image-ref"]) for s in images)
