"""Deployment alarms: read from CloudWatch while the deployment runs; one in ALARM fails it and,
with rollback on, ECS rolls back."""

from __future__ import annotations

from tests.ecs_model.conftest import ALARM, Cloud, wait_for


def test_an_alarm_during_the_deployment_rolls_it_back(cloud: Cloud) -> None:
    good = cloud.create_service("v1", alarms=True)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "hang"
    cloud.emulator.policy.on_rollout.append(
        lambda tag: cloud.alarm("ALARM") if tag == "v2" else None
    )
    cloud.deploy("v2")
    doc = cloud.until(cloud.newest(), "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")
    assert doc["alarms"] == {
        "status": "TRIGGERED",
        "alarmNames": [ALARM],
        "triggeredAlarmNames": [ALARM],
    }
    assert ALARM in doc["rollback"]["reason"]
    cloud.until(doc["serviceDeploymentArn"], "ROLLBACK_SUCCESSFUL")
    assert cloud.service()["taskDefinition"] == good


def test_an_alarm_already_in_alarm_fails_the_next_deployment(cloud: Cloud) -> None:
    cloud.create_service("v1", alarms=True)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.alarm("ALARM")  # red before the deployment starts: a hotfix fails too
    cloud.emulator.step = 5.0  # the rollout itself would take longer than one alarm read
    cloud.deploy("v2")
    doc = cloud.until(cloud.newest(), "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")
    assert doc["alarms"]["triggeredAlarmNames"] == [ALARM]


def test_alarms_off_are_not_read(cloud: Cloud) -> None:
    cloud.create_service("v1", alarms=False)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.alarm("ALARM")
    cloud.deploy("v2")
    doc = cloud.until(cloud.newest(), "SUCCESSFUL")
    assert doc["alarms"]["status"] == "DISABLED"


def test_alarm_without_rollback_stops_the_deployment(cloud: Cloud) -> None:
    cloud.create_service("v1", alarms=True, rollback=False)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "hang"
    cloud.deploy("v2")
    cloud.alarm("ALARM")
    doc = cloud.until(cloud.newest(), "STOPPED")
    assert doc["alarms"]["status"] == "TRIGGERED"
    assert cloud.service()["deployments"][0]["rolloutState"] == "FAILED"


def test_bake_time_keeps_watching_after_steady_state(cloud: Cloud) -> None:
    cloud.create_service("v1", alarms=True)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.bake_time = 30.0
    try:
        cloud.deploy("v2")
        arn = cloud.newest()

        def steady() -> bool:
            return bool(cloud.describe(arn)["targetServiceRevision"]["runningTaskCount"] == 2)

        wait_for(steady, what="steady state")
        assert cloud.describe(arn)["status"] == "IN_PROGRESS"  # baking
        cloud.alarm("ALARM")
        cloud.until(arn, "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")
    finally:
        cloud.emulator.bake_time = 0.0
