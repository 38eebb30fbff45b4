"""`deploy` with strategy blue_green or canary against the model: the new revision is smoke-tested
through the test listener rule while ECS holds the deployment at POST_TEST_TRAFFIC_SHIFT; a
failure there rolls back before any production request reaches it (the model's traffic record
counts them); a failure during the bake moves traffic back to the old tasks, which still run."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from autopipe.errors import RolledBack
from ecs_model.emulator import Emulator
from testbed.waiting import wait_for
from tests.deploy.test_interrupt import INTERRUPTED, deployment_status, read_until, start
from tests.support.moto import World

SHA = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"


@pytest.fixture
def minute(emulator: Emulator) -> Iterator[Emulator]:
    """A model minute of 0.5 s (bake times), put back after the test."""
    emulator.minute = 0.5
    yield emulator
    emulator.minute = 1.0


def deploy(world: World, tag: str) -> tuple[int, dict[str, Any], str]:
    result = world.cli("deploy", "--tag", tag, "--git-sha", SHA, "--output", "json")
    return result.exit_code, json.loads(result.stdout), result.stderr


def key(world: World) -> str:
    return f"{world.settings.cluster}:{world.settings.service}"


def served(world: World, revision: str, kind: str) -> int:
    traffic = world.emulator.rollouts.traffic[key(world)]
    return sum(n for (arn, k), n in traffic.served.items() if arn.endswith(revision) and k == kind)


def baseline(world: World) -> str:
    code, doc, _ = deploy(world, "v1")
    assert code == 0, doc
    return str(doc["revision"])


@pytest.mark.parametrize("strategy", ["blue_green", "canary"])
def test_a_release_is_proven_on_test_traffic_before_production(
    world: World, minute: Emulator, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    baseline(world)
    monkeypatch.setenv("AUTOPIPE_STRATEGY", strategy)
    monkeypatch.setenv("AUTOPIPE_BAKE_MINUTES", "1")
    monkeypatch.setenv("AUTOPIPE_CANARY_BAKE_MINUTES", "0")
    result = world.cli("deploy", "--tag", "v2", "--git-sha", SHA)
    assert result.exit_code == 0, result.output
    out = result.stdout
    markers = [
        "at POST_TEST_TRAFFIC_SHIFT", "(test listener rule) ready on",
        "answered the gate: CONTINUE", "baking 1 min", "deployed auto-pipe-task:3 (v2)",
    ]  # fmt: skip
    positions = [out.index(m) for m in markers]
    assert positions == sorted(positions), out
    config = world.service()["deploymentConfiguration"]
    assert config["strategy"] == {"blue_green": "BLUE_GREEN", "canary": "CANARY"}[strategy]
    assert config["lifecycleHooks"] == [{
        "targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"},
    }]  # fmt: skip
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    # The pre-traffic smoke test reached v2 through the test route only: /ready + /version,
    # smoke_passes times; production requests (the bake's smoke test) came after the gate.
    assert served(world, ":3", "test") == 2 * world.settings.smoke_passes
    assert served(world, ":3", "production") >= 2 * world.settings.smoke_passes
    traffic = world.emulator.rollouts.traffic[key(world)]
    first_production = next(i for i, c in enumerate(traffic.changes)
                            if any(a.endswith(":3") for a in c[1]))  # fmt: skip
    first_test = next(i for i, c in enumerate(traffic.changes) if (c[2] or "").endswith(":3"))
    assert first_test < first_production
    assert world.revision() == "auto-pipe-task:3"


@pytest.mark.parametrize("strategy", ["blue_green", "canary"])
def test_a_failed_pre_traffic_smoke_test_serves_no_user_from_the_release(
    world: World, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    good = baseline(world)
    monkeypatch.setenv("AUTOPIPE_STRATEGY", strategy)
    world.stand_in.broken.add("v2")
    code, doc, err = deploy(world, "v2")
    assert code == RolledBack.exit_code, err
    assert "pre_traffic_smoke_failed" in doc["reason"]
    assert doc["rollback"]["to"] == good
    assert served(world, ":3", "production") == 0
    assert served(world, ":3", "test") >= 1
    # ECS rolled back at the gate: the deployment ended ROLLBACK_SUCCESSFUL, its hook FAILED.
    found = world.aws.ecs().describe_service_deployments(serviceDeploymentArns=[doc["deployment"]])
    (deployment,) = found["serviceDeployments"]
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert [h["status"] for h in deployment["lifecycleHookDetails"]] == ["FAILED"]
    assert world.revision() == good
    tags = world.aws.ecs().list_tags_for_resource(
        resourceArn=world.aws.ecs().describe_task_definition(taskDefinition="auto-pipe-task:3")[
            "taskDefinition"
        ]["taskDefinitionArn"]
    )["tags"]
    assert any(t["key"] == "autopipe:failed" for t in tags)
    record = world.aws.ssm().get_parameter(Name="/auto-pipe/rehearsal/release/image-tag")
    assert record["Parameter"]["Value"] == "v1"


def test_a_failure_during_the_bake_moves_traffic_back_to_the_old_tasks(
    world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v2 passes at the gate, then breaks once it has production traffic (a Lambda hook at
    POST_PRODUCTION_TRAFFIC_SHIFT marks it broken): the bake's smoke test fails and ECS moves
    traffic back to v1's tasks, which never stopped."""
    good = baseline(world)
    ecs = world.aws.ecs()
    function = "arn:aws:lambda:us-east-1:123456789012:function:breaks-v2"

    def breaks(event: dict[str, Any]) -> dict[str, str]:
        world.stand_in.broken.add("v2")
        return {"hookStatus": "SUCCEEDED"}

    emulator.lambdas[function] = breaks
    config = world.service()["deploymentConfiguration"]
    config["lifecycleHooks"] = [{"targetType": "AWS_LAMBDA", "hookTargetArn": function,
                                 "lifecycleStages": ["POST_PRODUCTION_TRAFFIC_SHIFT"]}]  # fmt: skip
    ecs.update_service(cluster=world.settings.cluster, service=world.settings.service,
                       deploymentConfiguration=config)  # fmt: skip
    blue_entry = world.service()["deployments"][0]["id"]
    monkeypatch.setenv("AUTOPIPE_STRATEGY", "blue_green")
    monkeypatch.setenv(
        "AUTOPIPE_BAKE_MINUTES", "60"
    )  # 60 s of model time: the smoke test fails first
    code, doc, err = deploy(world, "v2")
    assert code == RolledBack.exit_code, err
    assert "smoke_failed_during_bake" in doc["reason"]
    assert doc["rollback"]["by"] == "ecs on request"
    assert doc["rollback"]["to"] == good
    # Our hook and the one already configured both ran.
    found = ecs.describe_service_deployments(serviceDeploymentArns=[doc["deployment"]])
    (deployment,) = found["serviceDeployments"]
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["lifecycleStage"] == "BAKE_TIME"
    assert {h["targetType"] for h in deployment["lifecycleHookDetails"]} == {"PAUSE", "AWS_LAMBDA"}
    traffic = world.emulator.rollouts.traffic[key(world)]
    assert all(a.endswith(":2") for a in traffic.production)
    # v1's tasks were never replaced: the same ECS deployment serves again, none was started.
    assert [d["id"] for d in world.service()["deployments"]] == [blue_entry]
    assert world.revision() == good


def test_a_missing_test_traffic_secret_stops_before_the_service_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = baseline(world)
    world.aws.secrets().delete_secret(
        SecretId=world.settings.test_header_secret_name, ForceDeleteWithoutRecovery=True
    )
    monkeypatch.setenv("AUTOPIPE_STRATEGY", "blue_green")
    code, doc, err = deploy(world, "v2")
    assert code == 2, err
    assert "auto-pipe/rehearsal/test-traffic" in doc["reason"]
    assert world.revision() == good
    assert (
        len(
            world.aws.ecs().list_service_deployments(
                cluster=world.settings.cluster, service=world.settings.service
            )["serviceDeployments"]
        )
        == 2
    )


def test_without_the_stacks_blue_green_resources_the_deploy_stays_rolling(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment configured for blue/green whose stack does not yet give the service an
    alternate target group and a test listener rule deploys as today, and says so."""
    baseline(world)
    world.aws.ecs().update_service(
        cluster=world.settings.cluster, service=world.settings.service, loadBalancers=[]
    )
    monkeypatch.setenv("AUTOPIPE_STRATEGY", "blue_green")
    result = world.cli("deploy", "--tag", "v2", "--git-sha", SHA)
    assert result.exit_code == 0, result.output
    assert "this deploy is a rolling update" in result.output
    assert "POST_TEST_TRAFFIC_SHIFT" not in result.output
    assert "strategy" not in world.service()["deploymentConfiguration"]
    assert key(world) not in world.emulator.rollouts.traffic
    assert world.revision() == "auto-pipe-task:3"


def test_an_interrupt_at_the_gate_leaves_production_on_the_proven_release(world: World) -> None:
    """Ctrl-C while the pre-traffic smoke test runs: ECS is asked to roll back (the deployment
    is IN_PROGRESS, held at the gate) and does it without us; no user reached the release."""
    good = baseline(world)
    world.stand_in.broken.add("v2")  # the test route keeps failing: the smoke test goes on
    world.env.update(AUTOPIPE_STRATEGY="blue_green", AUTOPIPE_SMOKE_TIMEOUT="60")
    process = start(world, "deploy", "--tag", "v2", "--timeout", "60")
    try:
        read_until(process, "at POST_TEST_TRAFFIC_SHIFT")
        # The interrupt lands mid-smoke-test: once a probe went through the test route.
        wait_for(lambda: served(world, ":3", "test") >= 1, "a probe through the test route", 30)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == INTERRUPTED, stderr
    assert stderr.startswith("Interrupted: during test: asked ECS to put back"), stderr
    arn = str(world.service()["currentServiceDeployment"])
    wait_for(lambda: deployment_status(world, arn) == "ROLLBACK_SUCCESSFUL", "ECS's rollback")
    assert world.revision() == good
    assert served(world, ":3", "production") == 0
