"""Blue/green, canary and linear deployments in the model: the stages, who gets production and
test traffic in each, PAUSE and Lambda hooks, bake time, and rollback by moving traffic back to
the old tasks, which never stopped."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.ecs_model.conftest import ALARM, CLUSTER, SERVICE, Cloud, wait_for

KEY = f"{CLUSTER}:{SERVICE}"
GATE = "POST_TEST_TRAFFIC_SHIFT"


def strategy(kind: str, *, bake: int = 0, hooks: list[dict[str, Any]] | None = None,
             alarms: bool = False, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "strategy": kind,
        "bakeTimeInMinutes": bake,
        "lifecycleHooks": hooks or [],
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "alarms": {"alarmNames": [ALARM], "enable": alarms, "rollback": True},
        **extra,
    }


def pause(stage: str = GATE, minutes: int = 60, action: str = "ROLLBACK") -> dict[str, Any]:
    return {
        "targetType": "PAUSE",
        "lifecycleStages": [stage],
        "timeoutConfiguration": {"timeoutInMinutes": minutes, "action": action},
    }


def start(cloud: Cloud, config: dict[str, Any], tag: str = "v2") -> tuple[str, str, str]:
    """v1 steady, then an update to `tag` under `config`: (blue, green, deployment ARN)."""
    blue = cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    green = cloud.deploy(tag, deploymentConfiguration=config)["taskDefinition"]
    return blue, green, cloud.newest()


def at_stage(cloud: Cloud, arn: str, stage: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        doc = cloud.describe(arn)
        return doc if doc.get("lifecycleStage") == stage else None

    return wait_for(probe, what=f"{arn} at {stage}")


def awaiting(cloud: Cloud, arn: str) -> str:
    doc = at_stage(cloud, arn, GATE)
    hooks = wait_for(lambda: cloud.describe(arn).get("lifecycleHookDetails"), what="the hook")
    (hook,) = hooks
    assert (hook["targetType"], hook["status"], hook["timeoutAction"]) == (
        "PAUSE", "AWAITING_ACTION", "ROLLBACK",
    )  # fmt: skip
    assert hook["hookId"].startswith("ecs-pause-")
    assert doc["status"] == "IN_PROGRESS"
    return str(hook["hookId"])


def steps(cloud: Cloud, green: str) -> list[float]:
    """The production shares green went through, in order."""
    shares: list[float] = [0.0]
    for _, production, _ in cloud.emulator.rollouts.traffic[KEY].changes:
        if production.get(green, 0.0) != shares[-1]:
            shares.append(production.get(green, 0.0))
    return shares


def requests(cloud: Cloud, count: int, *, test: bool = False) -> list[str | None]:
    return [cloud.emulator.rollouts.route(KEY, test=test) for _ in range(count)]


def test_blue_green_holds_at_the_gate_with_only_test_traffic_on_green(cloud: Cloud) -> None:
    cloud.emulator.minute = 0.3
    blue, green, arn = start(cloud, strategy("BLUE_GREEN", bake=1, hooks=[pause()]))
    hook = awaiting(cloud, arn)
    assert set(requests(cloud, 50)) == {blue}
    assert set(requests(cloud, 5, test=True)) == {green}
    service = cloud.service()
    assert service["runningCount"] == 4  # both revisions run
    assert [d["taskDefinition"] for d in service["deployments"]] == [green, blue]

    cloud.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="CONTINUE")
    baking = at_stage(cloud, arn, "BAKE_TIME")
    assert baking["status"] == "IN_PROGRESS"
    assert set(requests(cloud, 20)) == {green}
    assert len(cloud.service()["deployments"]) == 2  # blue still there during bake
    doc = cloud.until(arn, "SUCCESSFUL")
    assert doc["lifecycleStage"] == "CLEAN_UP"
    assert doc["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    traffic = cloud.emulator.rollouts.traffic[KEY]
    assert (traffic.production, traffic.test) == ({green: 100.0}, None)
    assert [d["taskDefinition"] for d in cloud.service()["deployments"]] == [green]
    # Test traffic first; production moved once, all at once; nothing under test at the end.
    assert [(c[1].get(green, 0.0), c[2]) for c in traffic.changes] == [
        (0.0, None), (0.0, green), (100.0, green), (100.0, None),
    ]  # fmt: skip


def test_a_rollback_at_the_gate_serves_no_production_request_from_green(cloud: Cloud) -> None:
    blue, green, arn = start(cloud, strategy("BLUE_GREEN", hooks=[pause()]))
    blue_entry = cloud.service()["deployments"][1]["id"]
    hook = awaiting(cloud, arn)
    requests(cloud, 30)
    assert set(requests(cloud, 3, test=True)) == {green}
    cloud.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="ROLLBACK")
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    requests(cloud, 30)
    served = cloud.emulator.rollouts.traffic[KEY].served
    assert served[(green, "production")] == 0
    assert served[(blue, "production")] == 60
    assert served[(green, "test")] == 3
    assert requests(cloud, 1, test=True) == [None]  # nothing under test any more
    assert doc["rollback"]["serviceRevisionArn"] == doc["sourceServiceRevisions"][0]["arn"]
    service = cloud.service()
    # The old tasks were never replaced: the same ECS deployment serves, no new one started.
    assert [(d["id"], d["taskDefinition"]) for d in service["deployments"]] == [(blue_entry, blue)]
    assert service["taskDefinition"] == blue


def test_an_unanswered_gate_rolls_back_at_its_timeout(cloud: Cloud) -> None:
    cloud.emulator.minute = 0.2
    blue, _, arn = start(cloud, strategy("BLUE_GREEN", hooks=[pause(minutes=1)]))
    awaiting(cloud, arn)
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    assert doc["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert cloud.emulator.rollouts.traffic[KEY].production == {blue: 100.0}


def test_a_gate_timing_out_with_continue_goes_on(cloud: Cloud) -> None:
    cloud.emulator.minute = 0.2
    _, green, arn = start(
        cloud, strategy("BLUE_GREEN", hooks=[pause(minutes=1, action="CONTINUE")])
    )
    cloud.until(arn, "SUCCESSFUL")
    assert cloud.emulator.rollouts.traffic[KEY].production == {green: 100.0}


def test_canary_sends_its_share_then_the_rest(cloud: Cloud) -> None:
    cloud.emulator.minute = 0.5
    canary = {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}
    blue, green, arn = start(cloud, strategy("CANARY", canaryConfiguration=canary))
    at_stage(cloud, arn, "PRODUCTION_TRAFFIC_SHIFT")
    wait_for(lambda: cloud.emulator.rollouts.traffic[KEY].share(green) > 0, what="the canary")
    answered = requests(cloud, 100)
    assert answered.count(green) == 10
    assert answered.count(blue) == 90
    cloud.until(arn, "SUCCESSFUL")
    assert steps(cloud, green) == [0.0, 10.0, 100.0]


def test_linear_moves_in_equal_steps(cloud: Cloud) -> None:
    cloud.emulator.minute = 0.05
    linear = {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}
    _, green, arn = start(cloud, strategy("LINEAR", linearConfiguration=linear))
    cloud.until(arn, "SUCCESSFUL")
    assert steps(cloud, green) == [0.0, 25.0, 50.0, 75.0, 100.0]


def test_an_alarm_during_bake_moves_traffic_back_to_the_running_old_tasks(cloud: Cloud) -> None:
    cloud.emulator.minute = 5.0  # a long bake: the alarm fires inside it
    blue, green, arn = start(cloud, strategy("BLUE_GREEN", bake=1, alarms=True))
    blue_entry = cloud.service()["deployments"][1]["id"]
    at_stage(cloud, arn, "BAKE_TIME")
    assert set(requests(cloud, 10)) == {green}
    assert cloud.service()["runningCount"] == 4
    cloud.alarm("ALARM")
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    assert doc["alarms"]["status"] == "TRIGGERED"
    assert set(requests(cloud, 10)) == {blue}
    assert [d["id"] for d in cloud.service()["deployments"]] == [blue_entry]


def test_stop_service_deployment_during_bake_moves_traffic_back(cloud: Cloud) -> None:
    cloud.emulator.minute = 5.0
    blue, _, arn = start(cloud, strategy("CANARY", bake=1, canaryConfiguration={
        "canaryPercent": 50.0, "canaryBakeTimeInMinutes": 0}))  # fmt: skip
    at_stage(cloud, arn, "BAKE_TIME")
    cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    assert cloud.emulator.rollouts.traffic[KEY].production == {blue: 100.0}


def test_the_circuit_breaker_during_scale_up_rolls_back_before_any_traffic(cloud: Cloud) -> None:
    cloud.emulator.policy.outcomes["v2"] = "fail"
    blue, _, arn = start(cloud, strategy("BLUE_GREEN", hooks=[pause()]))
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    assert doc["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert doc["lifecycleStage"] == "SCALE_UP"
    traffic = cloud.emulator.rollouts.traffic[KEY]
    assert all(test is None for _, _, test in traffic.changes)  # never under test
    assert traffic.production == {blue: 100.0}
    assert cloud.service()["taskDefinition"] == blue


def test_a_lambda_hook_is_invoked_until_it_decides(cloud: Cloud) -> None:
    cloud.emulator.minute = 0.6  # callBackDelay 1 s → 0.01 s
    calls: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        done = len(calls) >= 3
        return {"hookStatus": "SUCCEEDED" if done else "IN_PROGRESS", "callBackDelay": 1,
                "hookDetails": {"seen": len(calls)}}  # fmt: skip

    function = "arn:aws:lambda:us-east-1:123456789012:function:gate"
    cloud.emulator.lambdas[function] = handler
    hook = {"targetType": "AWS_LAMBDA", "hookTargetArn": function,
            "roleArn": "arn:aws:iam::123456789012:role/hooks", "lifecycleStages": [GATE],
            "hookDetails": {"seen": 0}}  # fmt: skip
    _, green, arn = start(cloud, strategy("BLUE_GREEN", hooks=[hook]))
    doc = cloud.until(arn, "SUCCESSFUL")
    assert len(calls) == 3
    assert {c["lifecycleStage"] for c in calls} == {GATE}
    assert [c["hookDetails"] for c in calls] == [{"seen": 0}, {"seen": 1}, {"seen": 2}]
    assert calls[0]["serviceDeploymentArn"] == arn
    assert doc["lifecycleHookDetails"][0]["targetArn"] == function
    assert cloud.emulator.rollouts.traffic[KEY].production == {green: 100.0}


@pytest.mark.parametrize("answer", [{"hookStatus": "FAILED"}, {"hookStatus": "maybe"}, None])
def test_a_lambda_hook_that_fails_rolls_back(cloud: Cloud, answer: dict[str, str] | None) -> None:
    def handler(event: dict[str, Any]) -> dict[str, str]:
        if answer is None:
            raise RuntimeError("the function crashed")
        return answer

    function = "arn:aws:lambda:us-east-1:123456789012:function:gate"
    cloud.emulator.lambdas[function] = handler
    hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": function,
        "lifecycleStages": ["POST_SCALE_UP"],
    }
    blue, green, arn = start(cloud, strategy("BLUE_GREEN", hooks=[hook]))
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    assert doc["lifecycleHookDetails"][0]["status"] == "FAILED"
    assert cloud.emulator.rollouts.traffic[KEY].served[(green, "test")] == 0
    assert cloud.emulator.rollouts.traffic[KEY].production == {blue: 100.0}


def test_continue_service_deployment_refuses_what_is_not_awaiting(cloud: Cloud) -> None:
    _, _, arn = start(cloud, strategy("BLUE_GREEN", hooks=[pause()]))
    hook = awaiting(cloud, arn)
    with pytest.raises(ClientError, match="not awaiting action"):
        cloud.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-nope")
    cloud.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook)  # CONTINUE
    cloud.until(arn, "SUCCESSFUL")
    with pytest.raises(ClientError, match="SUCCESSFUL"):
        cloud.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook)
    missing = arn[:-4] + "nope"
    with pytest.raises(ClientError) as error:
        cloud.ecs.continue_service_deployment(serviceDeploymentArn=missing, hookId=hook)
    assert error.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"


def test_rolling_updates_keep_no_traffic_record(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.deploy("v2")
    doc = cloud.until(cloud.newest(), "SUCCESSFUL")
    assert "lifecycleStage" not in doc
    assert KEY not in cloud.emulator.rollouts.traffic


def test_a_pre_production_pause_holds_before_any_production_traffic(cloud: Cloud) -> None:
    blue, green, arn = start(
        cloud, strategy("BLUE_GREEN", hooks=[pause("PRE_PRODUCTION_TRAFFIC_SHIFT")])
    )
    at_stage(cloud, arn, "PRODUCTION_TRAFFIC_SHIFT")
    (hook,) = wait_for(lambda: cloud.describe(arn).get("lifecycleHookDetails"), what="the hook")
    assert hook["status"] == "AWAITING_ACTION"
    assert set(requests(cloud, 20)) == {blue}
    cloud.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    cloud.until(arn, "SUCCESSFUL")
    assert steps(cloud, green) == [0.0, 100.0]
