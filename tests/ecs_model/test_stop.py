"""StopServiceDeployment: accepted in the states the docs list, refused in the others."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.ecs_model.conftest import CLUSTER, SERVICE, Cloud


def test_rollback_of_a_running_deployment(cloud: Cloud) -> None:
    old = cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "hang"
    cloud.deploy("v2")
    arn = cloud.until(cloud.newest(), "IN_PROGRESS")["serviceDeploymentArn"]
    answer = cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert answer["serviceDeploymentArn"] == arn
    assert cloud.describe(arn)["status"] in (
        "ROLLBACK_REQUESTED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
    )
    doc = cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    source = doc["sourceServiceRevisions"][0]["arn"]
    assert doc["rollback"]["serviceRevisionArn"] == source
    assert doc["rollback"]["startedAt"] >= doc["startedAt"]
    service = cloud.service()
    assert service["taskDefinition"] == old
    assert [
        (d["status"], d["taskDefinition"], d["rolloutState"]) for d in service["deployments"]
    ] == [("PRIMARY", old, "COMPLETED")]
    # The rollback is the same service deployment, not a new one.
    assert len(cloud.deployments()) == 2


@pytest.mark.parametrize("state", ["SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "STOPPED"])
def test_a_completed_deployment_cannot_be_stopped(cloud: Cloud, state: str) -> None:
    cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "hang" if state != "SUCCESSFUL" else "complete"
    cloud.deploy("v2")
    arn = cloud.newest()
    if state == "ROLLBACK_SUCCESSFUL":
        cloud.until(arn, "IN_PROGRESS")
        cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    elif state == "STOPPED":
        cloud.until(arn, "IN_PROGRESS")
        cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    cloud.until(arn, state)
    with pytest.raises(ClientError) as error:
        cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert error.value.response["Error"]["Code"] == "ConflictException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_rollback_in_progress_continues(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.policy.outcomes.update({"v2": "hang", "v1": "hang"})
    cloud.deploy("v2")
    arn = cloud.until(cloud.newest(), "IN_PROGRESS")["serviceDeploymentArn"]
    cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    cloud.until(arn, "ROLLBACK_IN_PROGRESS")
    again = cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert again["serviceDeploymentArn"] == arn
    assert cloud.describe(arn)["status"] == "ROLLBACK_IN_PROGRESS"
    cloud.emulator.rollouts.active[f"{CLUSTER}:{SERVICE}"].outcome = "complete"  # v1 recovers
    cloud.until(arn, "ROLLBACK_SUCCESSFUL")


def test_abort_stops_without_rolling_back(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.emulator.policy.outcomes["v2"] = "hang"
    service = cloud.deploy("v2")
    arn = cloud.until(cloud.newest(), "IN_PROGRESS")["serviceDeploymentArn"]
    cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    doc = cloud.until(arn, "STOPPED")
    assert "rollback" not in doc
    assert doc["stoppedAt"] >= doc["startedAt"]
    assert cloud.service()["taskDefinition"] == service["taskDefinition"]


def test_an_unknown_deployment(cloud: Cloud) -> None:
    cloud.create_service("v1")
    unknown = cloud.newest().rsplit("/", 1)[0] + "/" + "y" * 22
    with pytest.raises(ClientError) as error:
        cloud.ecs.stop_service_deployment(serviceDeploymentArn=unknown, stopType="ROLLBACK")
    assert error.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"
