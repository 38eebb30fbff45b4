"""Stale reads after a write, per service, for the number of reads a test sets."""

from __future__ import annotations

from tests.ecs_model.conftest import CLUSTER, SERVICE, Cloud


def test_by_default_reads_are_fresh(cloud: Cloud) -> None:
    old = cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    new = cloud.deploy("v2")["taskDefinition"]
    assert new != old
    assert cloud.service()["taskDefinition"] == new


def test_describe_services_answers_what_it_answered_before_the_write(cloud: Cloud) -> None:
    old = cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.stale_reads(2, name=SERVICE)
    before = cloud.service()
    new = cloud.deploy("v2")["taskDefinition"]
    stale = [cloud.service() for _ in range(2)]
    assert [s["taskDefinition"] for s in stale] == [old, old]
    assert stale[0]["deployments"] == before["deployments"]
    assert cloud.service()["taskDefinition"] == new
    assert cloud.emulator.faults.fired("ecs", "DescribeServices", "stale") == 2


def test_service_deployments_lag_too(cloud: Cloud) -> None:
    cloud.create_service("v1")
    first = cloud.newest()
    cloud.until(first, "SUCCESSFUL")
    cloud.emulator.stale_reads(1)
    cloud.deployments()  # answered before the write
    cloud.deploy("v2")
    assert [d["serviceDeploymentArn"] for d in cloud.deployments()] == [first]  # stale
    newest = cloud.newest()  # fresh again
    assert newest != first
    cloud.ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    found = cloud.ecs.describe_service_deployments(serviceDeploymentArns=[cloud.newest()])
    assert found["serviceDeployments"] == []  # not visible yet: a MISSING failure
    assert found["failures"][0]["reason"] == "MISSING"


def test_a_new_task_is_missing_at_first(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.emulator.stale_reads(1, name=CLUSTER)
    arn = cloud.register("migrate")
    task = cloud.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration=cloud.network(),
    )["tasks"][0]["taskArn"]
    first = cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[task])
    assert first["tasks"] == []
    assert first["failures"] == [{"arn": task, "reason": "MISSING"}]
    assert cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[task])["tasks"][0]["taskArn"] == task


def test_other_services_are_not_affected(cloud: Cloud) -> None:
    cloud.create_service("v1")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    cloud.emulator.stale_reads(3, name="some-other-service")
    new = cloud.deploy("v2")["taskDefinition"]
    assert cloud.service()["taskDefinition"] == new


def test_a_stale_fault_replays_the_last_answer_without_a_write(cloud: Cloud) -> None:
    cloud.create_service("v1")
    first = cloud.service()
    cloud.emulator.policy.outcomes["v2"] = "hang"
    cloud.emulator.faults.add("ecs", "DescribeServices", "stale", count=1)
    cloud.deploy("v2")  # the next DescribeServices replays the answer given before it
    assert cloud.service()["taskDefinition"] == first["taskDefinition"]
    assert cloud.service()["taskDefinition"] != first["taskDefinition"]
