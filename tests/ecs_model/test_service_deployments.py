"""UpdateService creates a service deployment (its ARN, its target and source revisions) and
DescribeServices tells the same story."""

from __future__ import annotations

import re

from tests.ecs_model.conftest import CLUSTER, SERVICE, Cloud

DEPLOYMENT_ARN = re.compile(
    rf"^arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/[\w-]{{22}}$"
)
REVISION_ARN = re.compile(
    rf"^arn:aws:ecs:us-east-1:123456789012:service-revision/{CLUSTER}/{SERVICE}/\d+$"
)


def test_update_service_creates_a_service_deployment(cloud: Cloud) -> None:
    old = cloud.create_service("v1")
    first = cloud.newest()
    cloud.until(first, "SUCCESSFUL")
    cloud.emulator.policy.outcomes["v2"] = "hang"
    answered = cloud.deploy("v2")
    new_taskdef = answered["taskDefinition"]
    # The UpdateService answer already shows the new deployment, as ECS's does.
    assert new_taskdef.startswith("arn:aws:ecs:")
    assert new_taskdef.endswith(":2")
    primary, active = answered["deployments"]
    assert (primary["status"], primary["taskDefinition"], primary["rolloutState"]) == (
        "PRIMARY",
        new_taskdef,
        "IN_PROGRESS",
    )
    assert (active["status"], active["taskDefinition"]) == ("ACTIVE", old)

    arn = cloud.newest()
    assert DEPLOYMENT_ARN.match(arn), arn
    assert arn != first
    doc = cloud.until(arn, "IN_PROGRESS")
    assert REVISION_ARN.match(doc["targetServiceRevision"]["arn"])
    assert doc["targetServiceRevision"]["requestedTaskCount"] == 2
    sources = doc["sourceServiceRevisions"]
    assert [s["arn"] for s in sources] == [cloud.describe(first)["targetServiceRevision"]["arn"]]
    assert sources[0]["runningTaskCount"] == 2
    revisions = cloud.ecs.describe_service_revisions(
        serviceRevisionArns=[doc["targetServiceRevision"]["arn"], sources[0]["arn"]]
    )["serviceRevisions"]
    assert [r["taskDefinition"] for r in revisions] == [new_taskdef, old]
    assert doc["deploymentCircuitBreaker"] == {
        "status": "MONITORING",
        "failureCount": 0,
        "threshold": 3,
    }


def test_a_completed_deployment_is_successful_everywhere(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.deploy("v2")
    doc = cloud.until(cloud.newest(), "SUCCESSFUL")
    assert doc["finishedAt"] >= doc["startedAt"] >= doc["createdAt"]
    assert doc["targetServiceRevision"]["runningTaskCount"] == 2
    assert doc["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
    service = cloud.service()
    assert [(d["status"], d["rolloutState"]) for d in service["deployments"]] == [
        ("PRIMARY", "COMPLETED")
    ]
    assert service["deployments"][0]["taskDefinition"].endswith(":2")
    assert service["runningCount"] == 2
    assert any("has reached a steady state" in e["message"] for e in service["events"])


def test_force_new_deployment_deploys_the_same_revision_again(cloud: Cloud) -> None:
    taskdef = cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    found = cloud.deployments()
    assert len(found) == 2
    doc = cloud.describe(found[0]["serviceDeploymentArn"])
    revision = cloud.ecs.describe_service_revisions(
        serviceRevisionArns=[doc["targetServiceRevision"]["arn"]]
    )["serviceRevisions"][0]
    assert revision["taskDefinition"] == taskdef


def test_a_scale_only_update_is_no_deployment(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=3)
    assert len(cloud.deployments()) == 1
    assert cloud.service()["runningCount"] == 3


def test_a_newer_deployment_stops_the_ongoing_one(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.emulator.policy.outcomes["v2"] = "hang"
    cloud.deploy("v2")
    superseded = cloud.until(cloud.newest(), "IN_PROGRESS")["serviceDeploymentArn"]
    cloud.deploy("v3")
    doc = cloud.describe(superseded)
    assert doc["status"] == "STOPPED"
    assert "superseded" in doc["statusReason"]
    cloud.until(cloud.newest(), "SUCCESSFUL")
