"""Workflow hygiene (pins, permissions, OIDC only, timeouts, secrets), and every step one a
human can replay; read from the files in .github/workflows themselves."""

from __future__ import annotations

import re
import shlex

import typer.main

from autopipe import cli as autopipe_cli
from tests.pipeline.workflows import (
    AWS_CREDENTIALS_ACTION,
    ROOT,
    all_steps,
    all_workflows,
    assumes_aws_role,
    makefile_targets,
)

# `uses: owner/name@<40 hex> # v1.2.3`, nothing else on the line.
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s*\S+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\s*$")
FORBIDDEN_KEY_WORDS = (
    "aws-access-key-id",
    "aws-secret-access-key",
    "aws-session-token",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


# --- hygiene ------------------------------------------------------------------------------


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version() -> None:
    checked = 0
    for workflow in all_workflows():
        for line in workflow.text.splitlines():
            if not re.match(r"^\s*(-\s+)?uses:", line):
                continue
            value = line.split("uses:", 1)[1].split("#", 1)[0].strip()
            if value.startswith("./"):
                continue  # this repository's own reusable workflow
            assert SHA_PIN.match(line), f"{workflow.name}: not pinned as @<sha> # vX.Y.Z: {line}"
            checked += 1
    assert checked >= 10


def test_an_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for step in all_steps():
        if "@" in step.uses:
            pins.setdefault(step.action, set()).add(step.uses.split("@", 1)[1])
    assert {a: shas for a, shas in pins.items() if len(shas) > 1} == {}


def test_workflow_permissions_are_read_only() -> None:
    for workflow in all_workflows():
        assert workflow.data["permissions"] == {"contents": "read"}, workflow.name


def test_id_token_write_only_on_jobs_that_assume_the_aws_role() -> None:
    for workflow in all_workflows():
        for job_id, job in workflow.jobs.items():
            permissions = job.get("permissions", {})
            assert set(permissions.values()) <= {"read", "write", "none"}
            writes = {k for k, v in permissions.items() if v == "write"}
            expected = {"id-token"} if assumes_aws_role(job) else set()
            assert writes == expected, f"{workflow.name} > {job_id}: write on {writes}"


def test_aws_access_only_through_oidc_role_assumption() -> None:
    for workflow in all_workflows():
        for word in FORBIDDEN_KEY_WORDS:
            assert word not in workflow.text, f"{workflow.name} mentions {word}"
    credential_steps = [s for s in all_steps() if s.action == AWS_CREDENTIALS_ACTION]
    assert len(credential_steps) >= 4
    for step in credential_steps:
        assert set(step.with_) <= {"role-to-assume", "aws-region", "role-session-name"}
        assert "vars." in str(step.with_["role-to-assume"]), step.where
        assert "vars.AWS_REGION" in str(step.with_["aws-region"]), step.where


def test_checkout_never_persists_credentials() -> None:
    checkouts = [s for s in all_steps() if s.action == "actions/checkout"]
    assert checkouts
    for step in checkouts:
        assert step.with_.get("persist-credentials") is False, step.where


def test_every_run_step_is_a_make_target_or_an_autopipe_command() -> None:
    for step in all_steps():
        if "run" not in step.data:
            continue
        lines = [ln.strip() for ln in str(step.data["run"]).splitlines() if ln.strip()]
        assert len(lines) == 1, f"{step.where}: one command per step"
        assert re.match(r"^(make [a-z][a-z-]*\b|uv run autopipe [a-z]+\b)", lines[0]), step.where


def test_no_expression_inside_a_run_script() -> None:
    """Inputs, event fields and outputs reach scripts through `env:`, never `${{ }}` text."""
    for step in all_steps():
        if "run" in step.data:
            assert "${{" not in str(step.data["run"]), step.where


def test_every_job_has_a_timeout() -> None:
    for workflow in all_workflows():
        for job_id, job in workflow.jobs.items():
            if "uses" in job:
                continue  # a reusable-workflow call: the called jobs carry their own
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int), f"{workflow.name} > {job_id}"
            assert 1 <= minutes <= 60, f"{workflow.name} > {job_id}: {minutes}"


def test_secrets_are_the_slack_webhook_only_and_never_inherited() -> None:
    for workflow in all_workflows():
        assert "secrets: inherit" not in workflow.text
        used = set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", workflow.text))
        assert used <= {"SLACK_WEBHOOK_URL"}, workflow.name


# --- every step is something a human can replay ------------------------------------------


def test_make_targets_used_by_the_workflows_exist() -> None:
    targets = makefile_targets()
    for step in all_steps():
        if "run" in step.data and str(step.data["run"]).startswith("make "):
            target = str(step.data["run"]).split()[1]
            assert target in targets, f"{step.where}: no `make {target}`"


def _autopipe_options() -> dict[str, set[str]]:
    """The deployer CLI's commands and their options, introspected without running it."""
    group = typer.main.get_command(autopipe_cli.app)
    commands = getattr(group, "commands", {})
    return {
        name: {opt for param in command.params for opt in param.opts}
        for name, command in commands.items()
    }


def test_autopipe_commands_and_options_used_by_the_workflows_exist() -> None:
    known = _autopipe_options()
    calls = 0
    for step in all_steps():
        run = str(step.data.get("run", ""))
        if not run.startswith("uv run autopipe "):
            continue
        words = shlex.split(run)[3:]
        command, options = words[0], [w for w in words[1:] if w.startswith("--")]
        assert command in known, f"{step.where}: no `autopipe {command}`"
        assert set(options) <= known[command], f"{step.where}: {set(options) - known[command]}"
        calls += 1
    assert calls >= 4


def test_the_docs_map_every_step() -> None:
    doc = (ROOT / "docs" / "pipeline.md").read_text()
    for step in all_steps():
        run = str(step.data.get("run", ""))
        if run.startswith("make "):
            assert f"make {run.split()[1]}" in doc, f"docs/pipeline.md lacks {run}"
        elif run.startswith("uv run autopipe "):
            assert f"autopipe {run.split()[3]}" in doc, f"docs/pipeline.md lacks {run}"
