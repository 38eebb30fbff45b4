"""`autopipe rehearse` as a user runs it (its own process, its own emulator): deploy v1, v2,
broken v3 → automatic rollback to v2. With Docker the smoke target is the real container."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import docker as d
from tests.support.moto import ROOT


@pytest.mark.container
def test_rehearsal_with_real_containers(service_image: str) -> None:
    # Its own emulator and fake credentials; measured like the rest of autopipe/ (coverage
    # follows subprocesses: pyproject's [tool.coverage.run] patch).
    skip = ("AUTOPIPE_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    result = subprocess.run(
        [sys.executable, "-m", "autopipe", "rehearse", "--docker", "always",
         "--image", service_image, "--output", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert doc["docker"] is True
    assert doc["as_expected"] is True
    assert [(x["tag"], x["result"], x["exit_code"]) for x in doc["deploys"]] == [
        ("v1", "success", 0), ("v2", "success", 0), ("v3", "rolled_back", 6),
    ]  # fmt: skip
    v2 = doc["deploys"][1]["revision"]
    assert doc["deploys"][2]["rollback"]["to"] == v2
    assert doc["final_revision"] == v2
    timeline = [step["message"] for step in doc["timeline"]]
    assert any(m.startswith("docker: ") and "healthy" in m for m in timeline)
    assert any("/ready answered 503" in m for m in timeline)  # the real container's answer
    assert any(m.startswith("rollback complete") for m in timeline)
    assert any(m.startswith("slack: ") for m in timeline)
    left = d.docker("ps", "-a", "--filter", "name=autopipe-rehearsal-", "-q").stdout.strip()
    assert left == ""
