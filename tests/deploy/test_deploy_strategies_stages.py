"""A blue/green deploy against the model when things go wrong at each stage: the circuit breaker
during scale-up, and an interrupt during scale-up and during the bake. Each ends in the state
its message names, production on the proven release, and a re-run of the same deploy succeeds
(the state left is recoverable, not just named)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from autopipe.errors import RolledBack
from ecs_model.emulator import Emulator
from testbed.waiting import wait_for
from tests.deploy.test_deploy_strategies import baseline, deploy, key, served
from tests.deploy.test_interrupt import INTERRUPTED, deployment_status, read_until, start
from tests.support.moto import World


@pytest.fixture
def blue_green(
    world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """v1 proven, then blue/green with a 30-minute bake (a model minute of 0.5 s: 15 s)."""
    baseline(world)
    emulator.minute = 0.5
    monkeypatch.setenv("AUTOPIPE_STRATEGY", "blue_green")
    monkeypatch.setenv("AUTOPIPE_BAKE_MINUTES", "30")
    world.env.update(AUTOPIPE_STRATEGY="blue_green", AUTOPIPE_BAKE_MINUTES="30")
    yield world
    emulator.minute = 1.0


def rerun_succeeds(world: World) -> None:
    """The same deploy again, the release now healthy: it ends deployed on the new revision."""
    world.emulator.policy.outcomes.pop("v2", None)
    world.stand_in.broken.discard("v2")
    code, doc, err = deploy(world, "v2")
    assert code == 0, err
    assert doc["result"] == "success"
    assert world.revision() == doc["revision"]


def test_the_circuit_breaker_during_scale_up_rolls_back_before_any_user(
    blue_green: World,
) -> None:
    world = blue_green
    good = world.revision()
    world.emulator.policy.outcomes["v2"] = "fail"  # v2's tasks never start
    code, doc, err = deploy(world, "v2")
    assert code == RolledBack.exit_code, err
    assert doc["rollback"]["by"] == "ecs"
    assert doc["rollback"]["to"] == good
    found = world.aws.ecs().describe_service_deployments(serviceDeploymentArns=[doc["deployment"]])
    (deployment,) = found["serviceDeployments"]
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["lifecycleStage"] == "SCALE_UP"
    assert deployment["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert served(world, ":3", "production") == 0
    assert served(world, ":3", "test") == 0
    assert world.revision() == good
    rerun_succeeds(world)


@pytest.mark.parametrize(
    ("stage", "marker"),
    [("SCALE_UP", "IN_PROGRESS SCALE_UP"), ("BAKE_TIME", "baking 30 min")],
    ids=["scale-up", "bake"],
)
def test_an_interrupt_at_a_stage_is_stated_and_recoverable(
    blue_green: World, stage: str, marker: str
) -> None:
    world = blue_green
    good = world.revision()
    if stage == "SCALE_UP":
        world.emulator.policy.outcomes["v2"] = "hang"  # held in SCALE_UP until interrupted
    process = start(world, "deploy", "--tag", "v2", "--timeout", "120")
    try:
        read_until(process, marker, timeout=60)
        if stage == "BAKE_TIME":  # the users reached v2 before the interrupt
            wait_for(lambda: served(world, ":3", "production") >= 1, "a request on v2", 30)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == INTERRUPTED, stderr
    assert "asked ECS to put back" in stderr, stderr
    assert "`autopipe wait` shows when the service is steady" in stderr
    arn = str(world.service()["currentServiceDeployment"])
    wait_for(lambda: deployment_status(world, arn) == "ROLLBACK_SUCCESSFUL", "ECS's rollback")
    assert world.revision() == good
    traffic = world.emulator.rollouts.traffic[key(world)]
    assert all(a.endswith(":2") for a in traffic.production)  # every user back on v1
    # The release record still names v1: what `autopipe rollback` and the next deploy read.
    record = world.aws.ssm().get_parameter(Name="/auto-pipe/rehearsal/release/image-tag")
    assert record["Parameter"]["Value"] == "v1"
    assert world.cli("wait", "--timeout", "30").exit_code == 0
    rerun_succeeds(world)
