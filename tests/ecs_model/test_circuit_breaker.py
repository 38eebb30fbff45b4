"""The circuit breaker: tasks of a failing revision fail one tick at a time; at the documented
threshold (0.5 x desired, at least 3, at most 200) the deployment fails and, with rollback on,
ECS rolls back to the last revision that completed."""

from __future__ import annotations

import pytest

from tests.ecs_model.conftest import Cloud

# From https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html
THRESHOLDS = [(1, 3), (4, 3), (10, 5), (500, 200)]


@pytest.mark.parametrize(("desired", "threshold"), THRESHOLDS)
def test_threshold_then_rollback(cloud: Cloud, desired: int, threshold: int) -> None:
    cloud.emulator.task_failures_per_tick = 25 if desired == 500 else 1
    good = cloud.create_service("v1", desired=desired)
    first = cloud.newest()
    cloud.until(first, "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "fail"
    cloud.deploy("v2")
    arn = cloud.newest()
    assert cloud.describe(arn)["deploymentCircuitBreaker"]["threshold"] == threshold
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    breaker = doc["deploymentCircuitBreaker"]
    assert breaker == {"status": "TRIGGERED", "failureCount": threshold, "threshold": threshold}
    assert (
        doc["rollback"]["serviceRevisionArn"]
        == cloud.describe(first)["targetServiceRevision"]["arn"]
    )
    assert "circuit breaker" in doc["rollback"]["reason"]
    service = cloud.service()
    assert service["taskDefinition"] == good
    assert [(d["taskDefinition"], d["rolloutState"]) for d in service["deployments"]] == [
        (good, "COMPLETED")
    ]


def test_failures_grow_one_per_tick_until_the_threshold(cloud: Cloud) -> None:
    cloud.create_service("v1", desired=10)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "fail"
    cloud.deploy("v2")
    arn = cloud.newest()
    seen: set[int] = set()
    while (doc := cloud.describe(arn))["status"] not in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
        seen.add(doc["deploymentCircuitBreaker"]["failureCount"])
    assert seen >= {1, 2, 3, 4}  # counted up, not jumped to the threshold (5)
    assert doc["status"] == "ROLLBACK_SUCCESSFUL"


def test_without_rollback_the_deployment_stops_and_stays_failed(cloud: Cloud) -> None:
    cloud.create_service("v1", rollback=False)
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "fail"
    broken = cloud.deploy("v2")["taskDefinition"]
    doc = cloud.until(cloud.newest(), "STOPPED")
    assert "rollback" not in doc
    assert doc["stoppedAt"] >= doc["startedAt"]
    primary = cloud.service()["deployments"][0]
    assert (primary["taskDefinition"], primary["rolloutState"]) == (broken, "FAILED")
    assert primary["failedTasks"] == 3
    assert "circuit breaker" in primary["rolloutStateReason"]


def test_a_rollback_whose_tasks_fail_too(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes.update({"v1": "fail", "v2": "fail"})
    cloud.deploy("v2")
    cloud.until(cloud.newest(), "ROLLBACK_FAILED")


def test_no_completed_revision_to_roll_back_to(cloud: Cloud) -> None:
    cloud.emulator.policy.outcomes["v1"] = "fail"
    cloud.create_service("v1")
    doc = cloud.until(cloud.newest(), "STOPPED")
    assert "rollback" not in doc
