"""`autopipe rehearse` as a user runs it (its own process, its own emulator): deploy v1, v2,
broken v3 → automatic rollback to v2, with users sending requests from v2's deploy on. With
Docker the service is real containers behind the loopback load balancer (HAProxy); without it
a stand-in answers as the model's traffic shares say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support import docker as d
from tests.support.moto import ROOT

BROKEN = "user_requests_answered_by_broken_release"
BACK = "seconds_from_detection_to_all_traffic_on_previous_release"


def rehearse(*args: str) -> dict[str, Any]:
    # Its own emulator and fake credentials; measured like the rest of autopipe/ (coverage
    # follows subprocesses: pyproject's [tool.coverage.run] patch).
    skip = ("AUTOPIPE_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    result = subprocess.run(
        [sys.executable, "-m", "autopipe", "rehearse", *args, "--output", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    doc: dict[str, Any] = json.loads(result.stdout)
    assert doc["as_expected"] is True
    assert [(x["tag"], x["result"], x["exit_code"]) for x in doc["deploys"]] == [
        ("v1", "success", 0), ("v2", "success", 0), ("v3", "rolled_back", 6),
    ]  # fmt: skip
    v2 = doc["deploys"][1]["revision"]
    assert doc["deploys"][2]["rollback"]["to"] == v2
    assert doc["final_revision"] == v2
    return doc


def messages(doc: dict[str, Any]) -> list[str]:
    return [step["message"] for step in doc["timeline"]]


def timeline_of(doc: dict[str, Any], heading: str) -> list[tuple[float, str]]:
    """The timeline from the step starting with `heading` to the next deploy's heading."""
    steps = [(float(step["t"]), str(step["message"])) for step in doc["timeline"]]
    first = next(n for n, (_, m) in enumerate(steps) if m.startswith(heading))
    rest = steps[first + 1 :]
    end = next((n for n, (_, m) in enumerate(rest) if m.startswith("── deploy")), len(rest))
    return [steps[first], *rest[:end]]


def seconds_to_healthy(steps: list[tuple[float, str]], marker: str) -> float:
    """From the deployment's first SCALE_UP to the step that says `marker`."""
    scale_up = next(t for t, m in steps if " SCALE_UP " in m)
    return next(t for t, m in steps if marker in m) - scale_up


@pytest.mark.container
def test_rehearsal_with_real_containers(service_image: str) -> None:
    doc = rehearse("--docker", "always", "--image", service_image)
    assert doc["docker"] is True
    assert doc["strategy"] == "rolling"  # the rehearsal environment's
    timeline = messages(doc)
    assert any(m.startswith("docker: ") and "healthy" in m for m in timeline)
    assert any("/ready answered 503" in m for m in timeline)  # the real container's answer
    assert any(m.startswith("rollback complete") for m in timeline)
    assert any(m.startswith("slack: ") for m in timeline)
    # Rolling: v3 passed the target group's /health check and answered users until the
    # rollback's v2 task was healthy and v3 drained; then only v2 answered.
    broken = doc["broken_release"]
    assert broken[BROKEN] > 0
    assert broken[BACK] is not None
    assert broken[BACK] > 0
    left = d.docker("ps", "-a", "--filter", "name=autopipe-rehearsal-", "-q").stdout.strip()
    assert left == ""


@pytest.mark.container
def test_blue_green_rehearsal_keeps_users_off_the_broken_release(service_image: str) -> None:
    doc = rehearse("--strategy", "blue_green", "--docker", "always", "--image", service_image)
    assert (doc["strategy"], doc["load_balancer"]) == ("blue_green", "haproxy")
    broken = doc["broken_release"]
    # v3 was proven broken through the test rule while every user request stayed on v2.
    assert any("(test listener rule)" in m or "pre-traffic smoke" in m for m in messages(doc))
    assert broken[BROKEN] == 0
    assert broken["user_requests_by_release"].keys() == {"v2"}
    assert broken["user_requests_sent"] > 0
    assert broken[BACK] == 0.0
    # v2's own deploy moved the users from v1 (green) to v2 (blue) all at once.
    assert doc["deploys"][1]["user_requests_by_release"].keys() == {"v1", "v2"}
    left = d.docker("ps", "-a", "--filter", "name=autopipe-rehearsal-", "-q").stdout.strip()
    assert left == ""


@pytest.mark.container
def test_canary_rehearsal_splits_v2_traffic_by_the_rule_weights(service_image: str) -> None:
    doc = rehearse("--strategy", "canary", "--docker", "always", "--image", service_image)
    assert doc["broken_release"][BROKEN] == 0
    seen = doc["deploys"][1]["user_requests_by_release"]
    assert seen.get("v1", 0) > 0
    assert seen.get("v2", 0) > 0


@pytest.mark.container
def test_a_release_only_users_see_broken_is_moved_off_by_the_5xx_alarm(service_image: str) -> None:
    doc = rehearse("--strategy", "blue_green", "--failure", "users", "--docker", "always",
                   "--image", service_image)  # fmt: skip
    broken = doc["broken_release"]
    # Its /ready and /version passed the pre-traffic smoke test: users got it, and its 503s.
    assert "answered the gate: CONTINUE" in " ".join(messages(doc))
    assert broken["statuses_by_release"]["v3"].keys() == {"503"}
    assert broken["statuses_by_release"]["v2"].keys() == {"200"}
    # The alarm those answers fed made ECS roll back: traffic back on v2's tasks, still running.
    assert doc["deploys"][2]["rollback"]["by"] == "ecs"
    assert broken[BROKEN] > 0
    # v2's task neither stopped nor was replaced during v3's deploy: the rollback was a weight
    # change, so traffic was back in less time than v3's own task took to become healthy
    # (what a rollback that starts a task would take at least).
    during_v3 = timeline_of(doc, "── deploy v3")
    assert not [m for _, m in during_v3 if "(v2) healthy" in m or "(v2) stopped" in m]
    assert broken[BACK] is not None
    assert 0 <= broken[BACK] < seconds_to_healthy(during_v3, "(v3) healthy")
    # Every answer v3 gave came while it held production traffic (100 %: blue/green).
    exposed = broken["while_broken_release_had_production_traffic"]
    assert exposed["percent"] == 100.0
    assert exposed["user_requests_answered_by_broken_release"] == broken[BROKEN]


def test_stand_in_canary_exposes_only_its_share_to_a_release_only_users_see_broken() -> None:
    doc = rehearse("--strategy", "canary", "--failure", "users", "--docker", "never")
    broken = doc["broken_release"]
    exposed = broken["while_broken_release_had_production_traffic"]
    assert exposed["percent"] == doc["strategy_settings"]["canary_percent"]
    assert 0 < exposed["user_requests_answered_by_broken_release"] <= exposed["at_most"]
    assert exposed["at_most"] < exposed["user_requests_sent"]
    assert doc["deploys"][2]["rollback"]["by"] == "ecs"


@pytest.mark.parametrize("strategy", ["blue_green", "canary"])
def test_stand_in_rehearsal_of_a_shifting_strategy(strategy: str) -> None:
    doc = rehearse("--strategy", strategy, "--docker", "never")
    assert (doc["docker"], doc["load_balancer"]) == (False, "stand-in")
    assert doc["strategy"] == strategy
    broken = doc["broken_release"]
    assert broken[BROKEN] == 0
    assert broken[BACK] == 0.0
    assert broken["rollback_requested_at"] is not None
    assert "answered the gate: ROLLBACK" in messages(doc)


def test_stand_in_rehearsal_of_a_rolling_update_counts_what_the_broken_release_answered() -> None:
    doc = rehearse("--docker", "never")
    broken = doc["broken_release"]
    assert broken[BROKEN] > 0
    assert broken["user_requests_by_release"]["v2"] > 0
    assert broken[BACK] is not None
    # The rollback after a completed rolling deployment is autopipe's own UpdateService.
    assert doc["deploys"][2]["rollback"]["by"] == "autopipe (UpdateService)"


def test_an_unknown_strategy_is_a_one_line_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPIPE_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "autopipe", "rehearse", "--strategy", "big_bang",
         "--docker", "never"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--strategy must be one of rolling, blue_green, canary, linear" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run(
        [sys.executable, "-m", "autopipe", "rehearse", "--failure", "slow", "--docker", "never"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--failure must be one of ready, users" in result.stderr
