"""One-off tasks (the migration): exit codes, stop codes, StopTask on a running task."""

from __future__ import annotations

import math
from typing import Any

from tests.ecs_model.conftest import CLUSTER, Cloud, wait_for


def run(cloud: Cloud, tag: str) -> str:
    arn = cloud.register(tag)
    started = cloud.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration=cloud.network(),
    )
    return str(started["tasks"][0]["taskArn"])


def task(cloud: Cloud, arn: str) -> dict[str, Any]:
    return dict(cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0])


def stopped(cloud: Cloud, arn: str) -> dict[str, Any]:
    return wait_for(
        lambda: (t := task(cloud, arn))["lastStatus"] == "STOPPED" and t, what="task STOPPED"
    )


def test_exit_code_and_essential_container_exited(cloud: Cloud) -> None:
    cloud.emulator.policy.migration_exit["m1"] = 3
    found = stopped(cloud, run(cloud, "m1"))
    assert found["stopCode"] == "EssentialContainerExited"
    assert found["containers"][0]["exitCode"] == 3
    assert found["stoppedReason"] == "Essential container in task exited"


def test_a_task_that_never_started_has_no_exit_code(cloud: Cloud) -> None:
    cloud.emulator.policy.migration_stop["m2"] = "TaskFailedToStart"
    found = stopped(cloud, run(cloud, "m2"))
    assert found["stopCode"] == "TaskFailedToStart"
    assert "exitCode" not in found["containers"][0]
    assert found["stoppedReason"].startswith("CannotPullContainerError")


def test_a_long_task_runs_then_exits(cloud: Cloud) -> None:
    cloud.emulator.policy.migration_runs["m3"] = 0.3
    arn = run(cloud, "m3")
    first = task(cloud, arn)
    assert first["lastStatus"] == "RUNNING"
    assert "exitCode" not in first["containers"][0]
    found = stopped(cloud, arn)
    assert (found["stopCode"], found["containers"][0]["exitCode"]) == (
        "EssentialContainerExited",
        0,
    )


def test_stop_task_on_a_running_migration(cloud: Cloud) -> None:
    cloud.emulator.policy.migration_runs["m4"] = math.inf  # runs until stopped
    cloud.emulator.stop_timeout = 0.3
    arn = run(cloud, "m4")
    assert task(cloud, arn)["lastStatus"] == "RUNNING"
    answered = cloud.ecs.stop_task(cluster=CLUSTER, task=arn, reason="interrupted")["task"]
    assert (answered["desiredStatus"], answered["lastStatus"]) == ("STOPPED", "DEACTIVATING")
    assert answered["stopCode"] == "UserInitiated"
    stopping = wait_for(
        lambda: (t := task(cloud, arn))["lastStatus"] == "STOPPING" and t, what="STOPPING"
    )
    assert "exitCode" not in stopping["containers"][0]
    found = stopped(cloud, arn)
    assert (found["stopCode"], found["stoppedReason"]) == ("UserInitiated", "interrupted")
    assert found["containers"][0]["exitCode"] == 137  # SIGKILL after the stop timeout


def test_stop_task_on_a_stopped_task_changes_nothing(cloud: Cloud) -> None:
    arn = run(cloud, "m5")
    before = stopped(cloud, arn)
    after = cloud.ecs.stop_task(cluster=CLUSTER, task=arn, reason="late")["task"]
    assert (after["stopCode"], after["stoppedReason"]) == (
        before["stopCode"],
        before["stoppedReason"],
    )
