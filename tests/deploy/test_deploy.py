"""`deploy` end to end against the emulator: the happy path, and every failure path ending
rolled back (or not touched) with its own exit code and a notification."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from autopipe.errors import MigrationFailed, RollbackFailed, RolledBack
from tests.support.moto import CallLog, World

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import DeploymentCircuitBreakerTypeDef

SHA = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"


def deploy(world: World, tag: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = world.cli("deploy", "--tag", tag, "--git-sha", SHA, "--output", "json", *args)
    return result.exit_code, json.loads(result.stdout)


def baseline(world: World) -> str:
    """v1 deployed and serving: the revision every failure must come back to."""
    code, doc = deploy(world, "v1")
    assert code == 0, doc
    return str(doc["revision"])


def test_happy_path(world: World, calls: CallLog) -> None:
    result = world.cli("deploy", "--tag", "v1", "--git-sha", SHA, "--reason", "release 1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # In order: lock, verify, register, migration, update, watch, smoke, unlock, notify.
    markers = [
        "lock taken", "OK   scan gate", "registered auto-pipe-task:2", "migration task exited 0",
        "service updated to auto-pipe-task:2: deployment", "SUCCESSFUL running 1/1", "smoke: ",
        "deployed auto-pipe-task:2 (v1)", "lock released", "notified: slack",
    ]  # fmt: skip
    positions = [out.index(m) for m in markers]
    assert positions == sorted(positions), out
    assert world.revision() == "auto-pipe-task:2"
    # The migration ran from the new revision with the command overridden.
    writes = [op for _, op in calls.writes]
    assert writes.index("RunTask") < writes.index("UpdateService")
    task = world.aws.ecs().list_tasks(cluster=world.settings.cluster, startedBy="autopipe-migrate")
    described = world.aws.ecs().describe_tasks(
        cluster=world.settings.cluster, tasks=task["taskArns"]
    )
    only = described["tasks"][0]
    assert only["taskDefinitionArn"].endswith("auto-pipe-task:2")
    assert only["overrides"]["containerOverrides"][0]["command"] == ["python", "-m", "app.migrate"]
    # The image is pinned by digest and /version was checked against it.
    td = world.aws.ecs().describe_task_definition(taskDefinition="auto-pipe-task:2")[
        "taskDefinition"
    ]
    assert td["containerDefinitions"][0]["image"].endswith(world.seeded.digests["v1"])
    slack = world.slack.payloads[-1]
    assert slack["text"].startswith(":white_check_mark: auto-pipe-service deployed")
    assert world.cli("lock", "status").stdout.strip().endswith("free")


def test_second_deploy_rolls_forward(world: World) -> None:
    baseline(world)
    code, doc = deploy(world, "v2")
    assert code == 0
    assert (doc["previous_revision"], doc["revision"]) == ("auto-pipe-task:2", "auto-pipe-task:3")
    assert doc["smoke_probes"] >= 2


def test_circuit_breaker_rolls_back_inside_ecs(world: World, calls: CallLog) -> None:
    good = baseline(world)
    world.emulator.policy.outcomes["v2"] = "fail"
    seen = len(calls.calls)
    code, doc = deploy(world, "v2")
    assert code == RolledBack.exit_code, doc
    assert doc["result"] == "rolled_back"
    assert "circuit breaker" in doc["reason"]
    assert doc["rollback"]["to"] == good
    assert doc["rollback"]["by"] == "ecs"
    assert doc["rollback"]["deployment"] == doc["deployment"]
    # ECS was the only controller: autopipe neither stopped the deployment nor updated back.
    ops = [op for _, op in calls.calls[seen:]]
    assert ops.count("UpdateService") == 1
    assert "StopServiceDeployment" not in ops
    assert world.revision() == good
    tags = world.aws.ecs().list_tags_for_resource(
        resourceArn=world.aws.ecs().describe_task_definition(taskDefinition=doc["revision"])[
            "taskDefinition"
        ]["taskDefinitionArn"]
    )["tags"]
    assert {t["key"] for t in tags} == {"autopipe:failed"}
    # Retired too: the family's latest ACTIVE revision (what the stack names) is the good one.
    active = world.aws.ecs().list_task_definitions(
        familyPrefix=world.settings.family, status="ACTIVE"
    )["taskDefinitionArns"]
    assert max(active, key=lambda arn: int(arn.rsplit(":", 1)[1])).endswith(good)
    assert world.slack.payloads[-1]["text"].startswith(":leftwards_arrow_with_hook:")


def test_circuit_breaker_without_rollback_is_stopped_on_request(world: World) -> None:
    good = baseline(world)
    breaker: DeploymentCircuitBreakerTypeDef = {"enable": True, "rollback": False}
    world.aws.ecs().update_service(
        cluster=world.settings.cluster, service=world.settings.service,
        deploymentConfiguration={"deploymentCircuitBreaker": breaker},
    )  # fmt: skip
    world.emulator.policy.outcomes["v2"] = "fail"
    code, doc = deploy(world, "v2")
    assert code == RolledBack.exit_code, doc
    assert world.revision() == good
    assert doc["rollback"]["to"] == good


def test_deployment_alarm_in_alarm(world: World) -> None:
    good = baseline(world)
    world.emulator.policy.outcomes["v2"] = "hang"  # ECS keeps going; the alarm decides

    def alarm_when_v2_rolls_out(tag: str) -> None:
        if tag == "v2":
            world.set_alarm("ALARM")

    world.emulator.policy.on_rollout.append(alarm_when_v2_rolls_out)
    code, doc = deploy(world, "v2")
    assert code == RolledBack.exit_code
    assert "alarm in ALARM: auto-pipe-rehearsal-5xx" in doc["reason"]
    assert doc["rollback"]["by"] == "ecs"  # ECS's alarm-based rollback, not a second controller
    assert world.revision() == good
    assert world.slack.payloads[-1]["text"].startswith(":leftwards_arrow_with_hook:")


def test_a_red_alarm_cannot_fail_the_way_back(world: World, calls: CallLog) -> None:
    """The smoke test fails while the alarm it caused is still red: the UpdateService back to
    the proven release runs with ECS's alarm rollback off (else ECS would fail the way back and
    return to the broken release), and the alarm configuration is restored after."""
    good = baseline(world)
    world.stand_in.broken.add("v2")

    def alarm_after_the_rollout(tag: str) -> None:
        if tag == "v1":  # the way back starts: the broken release's alarm is red
            world.set_alarm("ALARM")

    world.emulator.policy.on_rollout.append(alarm_after_the_rollout)
    code, doc = deploy(world, "v2")
    assert code == RolledBack.exit_code, doc
    assert doc["rollback"]["by"] == "autopipe (UpdateService)"
    assert world.revision() == good
    alarms = world.service()["deploymentConfiguration"]["alarms"]
    assert alarms["enable"] is True
    assert alarms["rollback"] is True


def test_smoke_failure(world: World) -> None:
    good = baseline(world)
    world.stand_in.broken.add("v2")
    code, doc = deploy(world, "v2")
    assert code == RolledBack.exit_code
    assert "smoke test failed: /ready answered 503" in doc["reason"]
    # A rolling deployment is SUCCESSFUL once steady: nothing left for StopServiceDeployment,
    # so the way back is a new deployment of the release record's revision.
    assert doc["rollback"]["by"] == "autopipe (UpdateService)"
    assert doc["rollback"]["deployment"] != doc["deployment"]
    assert world.revision() == good
    reason = json.dumps(world.slack.payloads[-1])
    assert "smoke test failed" in reason


def test_timeout(world: World) -> None:
    good = baseline(world)
    world.emulator.policy.outcomes["v2"] = "hang"
    code, doc = deploy(world, "v2", "--timeout", "0.5")
    assert code == RolledBack.exit_code
    assert doc["reason"].startswith("timeout: still IN_PROGRESS after 0.5s")
    # Still running: ECS is asked to roll it back (the single controller).
    assert doc["rollback"]["by"] == "ecs on request"
    assert doc["rollback"]["deployment"] == doc["deployment"]
    assert world.revision() == good
    assert world.slack.payloads[-1]["text"].startswith(":leftwards_arrow_with_hook:")


def test_rollback_that_does_not_stabilise_needs_a_human(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline(world)
    monkeypatch.setenv("AUTOPIPE_ROLLBACK_TIMEOUT", "0.5")
    world.emulator.policy.outcomes.update({"v1": "hang", "v2": "fail"})
    code, doc = deploy(world, "v2")
    assert code == RollbackFailed.exit_code
    assert "needs a human" in doc["error"]["message"]
    assert "ROLLBACK FAILED" in world.slack.payloads[-1]["text"]
    assert world.cli("lock", "status").stdout.strip().endswith("free")


def test_migration_failure_leaves_the_service_alone(world: World, calls: CallLog) -> None:
    good = baseline(world)
    world.emulator.policy.migration_exit["v2"] = 3
    seen = len(calls.calls)
    code, doc = deploy(world, "v2")
    assert code == MigrationFailed.exit_code
    assert "the migration exited 3" in doc["error"]["message"]
    assert doc["revision"] == "auto-pipe-task:3"  # registered, never rolled out
    assert world.revision() == good
    assert "UpdateService" not in [op for _, op in calls.calls[seen:]]
    assert "(migration_failed)" in world.slack.payloads[-1]["text"]


def test_webhook_failure_never_fails_a_deploy(world: World) -> None:
    world.slack.status = 500
    result = world.cli("deploy", "--tag", "v1")
    assert result.exit_code == 0, result.output
    assert "Slack notification failed" in result.stdout


def test_no_migration_and_no_smoke(world: World, calls: CallLog) -> None:
    result = world.cli("deploy", "--tag", "v1", "--no-migrate", "--no-smoke", "--no-notify")
    assert result.exit_code == 0, result.output
    assert "RunTask" not in [op for _, op in calls.writes]
    assert "smoke test skipped (--no-smoke)" in result.stdout
    assert world.slack.payloads == []


def test_deploy_by_digest_as_ci_does(world: World) -> None:
    digest = world.seeded.digests["v2"]
    result = world.cli("deploy", "--digest", digest, "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["image"].endswith(f"/auto-pipe-api@{digest}")
    assert doc["image_tag"] == "v2"  # named by its tag in ECR; /version was checked against it
    missing = world.cli("deploy", "--digest", "sha256:" + "0" * 64)
    assert missing.exit_code == 3
    assert "is not in ECR" in missing.stdout
