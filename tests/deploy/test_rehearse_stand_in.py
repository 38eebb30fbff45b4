"""`autopipe rehearse` without containers, as a user runs it (its own process, its own
emulator): the stand-in serves the smoke target, so the scenario runs on any machine; and
`--docker always` refuses an image the engine does not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.moto import ROOT

NO_SUCH_IMAGE = "autopipe-test/no-such-image:never-built"


def rehearse(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    # Its own emulator and fake credentials: nothing of the test's world leaks in.
    skip = ("AUTOPIPE_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "autopipe", "rehearse", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_rehearsal_on_the_stand_in_deploys_v1_v2_and_rolls_broken_v3_back() -> None:
    result = rehearse("--docker", "never", "--output", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert doc["docker"] is False
    assert doc["as_expected"] is True
    outcomes = [(x["tag"], x["result"], x["exit_code"]) for x in doc["deploys"]]
    assert outcomes == [("v1", "success", 0), ("v2", "success", 0), ("v3", "rolled_back", 6)]
    v1, v2, v3 = (x["revision"] for x in doc["deploys"])
    assert (v1, v2, v3) == ("auto-pipe-task:2", "auto-pipe-task:3", "auto-pipe-task:4")
    assert doc["deploys"][2]["rollback"]["to"] == v2
    assert doc["final_revision"] == v2
    timeline = [step["message"] for step in doc["timeline"]]
    assert timeline[0].startswith("AWS emulator (moto, in-process) on http://127.0.0.1:")
    assert any(m.startswith("smoke: /ready answered 503") for m in timeline)
    assert any(m.startswith(f"rollback complete: {v2} serves") for m in timeline)
    assert sum(m.startswith("slack: ") for m in timeline) == 3  # one message per deploy
    # The summary on stderr names the planned failure as planned.
    assert "ok v3: rolled_back (planned) (exit 6)" in result.stderr
    assert f"service ends on {v2}" in result.stderr


def test_docker_always_without_the_image_is_bad_input_and_starts_nothing() -> None:
    result = rehearse("--docker", "always", "--image", NO_SUCH_IMAGE, "--output", "json")
    assert result.returncode == 2, result.stderr
    line = f"error: --docker always: no Docker engine or no image {NO_SUCH_IMAGE} (make image)"
    assert line in result.stderr.splitlines()
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["error"]["kind"]) == (False, "config_error")
    assert "AWS emulator" not in result.stderr  # refused before the emulator started


def test_docker_always_without_a_docker_cli_is_bad_input(tmp_path: Path) -> None:
    result = rehearse("--docker", "always", "--image", NO_SUCH_IMAGE, path=str(tmp_path))
    assert result.returncode == 2, result.stderr
    line = f"error: --docker always: no Docker engine or no image {NO_SUCH_IMAGE} (make image)"
    assert line in result.stderr.splitlines()


def test_docker_auto_without_the_image_falls_back_to_the_stand_in() -> None:
    result = rehearse("--image", NO_SUCH_IMAGE)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    line = f"no Docker engine or no image {NO_SUCH_IMAGE} (make image): the service is a stand-in"
    assert line in out
    assert "rehearsal summary (stand-in: the model's figures)" in out
