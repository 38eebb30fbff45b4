"""`autopipe status` while a blue/green or canary deployment runs in a real deployer process:
the stage (DescribeServiceDeployments), the split read from the listener rules' weights
(DescribeRules on the seed's real ELBv2 resources, which follow the model's traffic), where test
traffic goes, and the time the gate, canary bake or bake has left. Also: nothing of it for a
rolling service, and one line when DescribeRules is denied."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testbed.waiting import wait_for
from tests.deploy.test_deploy_strategies import SHA, baseline
from tests.deploy.test_interrupt import read_until, start
from tests.support.moto import World

OLD, NEW = "auto-pipe-task:2", "auto-pipe-task:3"  # v1 after the baseline, then v2
GATE_MINUTES = 30  # autopipe.toml's test_gate_minutes for the rehearsal environment


def status(world: World) -> dict[str, Any]:
    result = world.cli("status", "--output", "json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def human(world: World) -> str:
    result = world.cli("status")
    assert result.exit_code == 0, result.output
    return result.stdout


def shift(world: World) -> dict[str, Any]:
    found = status(world)["traffic_shift"]
    assert found is not None
    return dict(found)


def stage(world: World) -> str | None:
    """The stage of the deployment in progress; None before the deployer's UpdateService."""
    found = status(world)["traffic_shift"]
    return None if found is None else str(found["stage"])


def decreases(world: World, first: float) -> Callable[[], bool]:
    return lambda: float(shift(world)["time_left"]["left_seconds"]) < first


@pytest.fixture
def deploying(world: World) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts `deploy --tag v2` (or another tag) in its own process with the given
    environment; stops it after the test (Ctrl-C: it asks ECS to roll back, as a cancelled job
    would)."""
    started: list[subprocess.Popen[str]] = []

    def run(tag: str = "v2", **env: str) -> subprocess.Popen[str]:
        world.env.update(env)
        process = start(world, "deploy", "--tag", tag, "--git-sha", SHA, "--timeout", "60")
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=30)


def test_a_rolling_service_shows_no_shift(world: World) -> None:
    baseline(world)
    assert status(world)["traffic_shift"] is None
    out = human(world)
    assert "shift " not in out
    assert "split " not in out


def test_at_the_gate_test_traffic_reaches_the_new_revision_and_production_the_old(
    world: World, deploying: Callable[..., subprocess.Popen[str]]
) -> None:
    baseline(world)
    world.stand_in.broken.add("v2")  # the smoke test through the test route keeps failing
    process = deploying(AUTOPIPE_STRATEGY="blue_green", AUTOPIPE_SMOKE_TIMEOUT="60")
    read_until(process, "at POST_TEST_TRAFFIC_SHIFT")
    found = shift(world)
    assert set(found) == {
        "strategy", "stage", "production", "test_to", "target_groups", "split_unavailable",
        "time_left",
    }  # fmt: skip
    assert set(found["target_groups"][0]) == {
        "arn", "name", "role", "revision", "production_weight", "production_percent",
        "test_percent",
    }  # fmt: skip
    assert found["strategy"] == "BLUE_GREEN"
    assert found["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert found["production"] == {OLD: 100.0, NEW: 0.0}
    assert found["test_to"] == NEW
    assert found["split_unavailable"] is None
    roles = {g["revision"]: g["role"] for g in found["target_groups"]}
    assert roles == {OLD: "primary", NEW: "alternate"}  # the first shift: green on the alternate
    wait = found["time_left"]
    assert set(wait) == {
        "kind", "configured_seconds", "left_seconds", "estimate", "basis", "then"
    }  # fmt: skip
    assert wait["kind"] == "gate"
    assert wait["estimate"] is False
    assert wait["then"] == "ROLLBACK"
    assert 0 < wait["left_seconds"] <= GATE_MINUTES * 60
    wait_for(decreases(world, wait["left_seconds"]), "the gate's time left to go down", 30)
    out = human(world)
    assert "shift     BLUE_GREEN at POST_TEST_TRAFFIC_SHIFT" in out
    assert f"(alternate, {NEW}): production 0 %  test 100 %" in out
    assert f"(primary, {OLD}): production 100 %  test 0 %" in out
    assert "gate times out" in out
    assert "(then ROLLBACK)" in out

    # A deploy role without elasticloadbalancing:DescribeRules: status still answers.
    world.emulator.faults.add(
        "elasticloadbalancing", "DescribeRules", "error", count=10**6, code="AccessDenied",
        status=403, message="not authorized to perform: elasticloadbalancing:DescribeRules",
    )  # fmt: skip
    denied = shift(world)
    assert denied["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert denied["target_groups"] is None
    assert denied["production"] is None
    assert "denied (AccessDenied)" in denied["split_unavailable"]
    assert denied["time_left"]["kind"] == "gate"
    split_lines = [line for line in human(world).splitlines() if line.startswith("  split ")]
    assert split_lines == [
        "  split     unavailable: DescribeRules denied (AccessDenied): "
        "allow elasticloadbalancing:DescribeRules"
    ]
    assert world.emulator.faults.fired("elasticloadbalancing", "DescribeRules") >= 2


def test_during_the_canary_bake_ten_percent_reach_the_new_revision(
    world: World, deploying: Callable[..., subprocess.Popen[str]]
) -> None:
    baseline(world)
    deploying(
        AUTOPIPE_STRATEGY="canary", AUTOPIPE_CANARY_PERCENT="10",
        AUTOPIPE_CANARY_BAKE_MINUTES="60",  # 60 model minutes: 60 s here (emulator.minute 1 s)
    )  # fmt: skip

    def shifted() -> bool:  # the stage begins with nothing moved yet
        found = status(world)["traffic_shift"] or {}
        return bool((found.get("production") or {}).get(NEW))

    wait_for(shifted, "the canary share", 60)
    found = shift(world)
    assert found["strategy"] == "CANARY"
    assert found["stage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert found["production"] == {OLD: 90.0, NEW: 10.0}
    assert found["test_to"] == NEW
    wait = found["time_left"]
    assert wait["kind"] == "canary_bake"
    assert wait["estimate"] is True
    assert wait["basis"] == "updatedAt"
    assert wait["configured_seconds"] == 60 * 60
    assert 0 < wait["left_seconds"] <= 60 * 60
    wait_for(decreases(world, wait["left_seconds"]), "the canary bake's time left to go down", 30)
    out = human(world)
    assert "shift     CANARY at PRODUCTION_TRAFFIC_SHIFT" in out
    assert f"{NEW}): production 10 %" in out
    assert f"{OLD}): production 90 %" in out
    assert "canary bake left" in out
    assert "of 60m00s" in out
    assert "(estimate" in out


def test_during_the_bake_production_is_on_the_new_revision_and_the_old_still_runs(
    world: World, deploying: Callable[..., subprocess.Popen[str]]
) -> None:
    baseline(world)
    deploying(AUTOPIPE_STRATEGY="blue_green", AUTOPIPE_BAKE_MINUTES="60")
    wait_for(lambda: stage(world) == "BAKE_TIME", "the bake", 60)
    found = shift(world)
    assert found["production"] == {OLD: 0.0, NEW: 100.0}
    assert found["test_to"] == NEW
    wait = found["time_left"]
    assert wait["kind"] == "bake"
    assert wait["estimate"] is True
    assert wait["configured_seconds"] == 60 * 60
    assert 0 < wait["left_seconds"] <= 60 * 60
    wait_for(decreases(world, wait["left_seconds"]), "the bake's time left to go down", 30)
    out = human(world)
    assert "bake left" in out
    assert "(estimate" in out


def test_the_next_deployment_is_read_from_the_rules_whichever_group_it_takes(
    world: World, deploying: Callable[..., subprocess.Popen[str]]
) -> None:
    """After a blue/green deploy the new revision serves from the alternate group; the next
    one starts on the primary group, and status still names each group's revision."""
    baseline(world)
    first = deploying(AUTOPIPE_STRATEGY="blue_green", AUTOPIPE_BAKE_MINUTES="0")
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    world.stand_in.broken.add("v3")  # held at the gate
    process = deploying("v3", AUTOPIPE_SMOKE_TIMEOUT="60")
    read_until(process, "at POST_TEST_TRAFFIC_SHIFT")
    found = shift(world)
    newer = "auto-pipe-task:4"
    assert found["production"] == {NEW: 100.0, newer: 0.0}
    assert found["test_to"] == newer
    roles = {g["revision"]: g["role"] for g in found["target_groups"]}
    assert roles == {NEW: "alternate", newer: "primary"}


def test_a_linear_step_shows_its_share_and_the_steps_wait(
    world: World, deploying: Callable[..., subprocess.Popen[str]]
) -> None:
    baseline(world)
    deploying(
        AUTOPIPE_STRATEGY="linear", AUTOPIPE_LINEAR_STEP_PERCENT="25",
        AUTOPIPE_LINEAR_STEP_MINUTES="60",  # 60 s here: the first step holds
    )  # fmt: skip

    def shifted() -> bool:
        found = status(world)["traffic_shift"] or {}
        return bool((found.get("production") or {}).get(NEW))

    wait_for(shifted, "the first step", 60)
    found = shift(world)
    assert found["strategy"] == "LINEAR"
    assert found["production"] == {OLD: 75.0, NEW: 25.0}
    wait = found["time_left"]
    assert wait["kind"] == "linear_step"
    assert wait["estimate"] is True
    assert wait["configured_seconds"] == 60 * 60
    assert 0 < wait["left_seconds"] <= 60 * 60
    assert "step wait left" in human(world)
