"""`--output json`: one document on stdout, sorted keys, the same shape on success and failure."""

from __future__ import annotations

import json
from typing import Any

from tests.support.moto import World

DEPLOY_KEYS = {
    "schema", "command", "ok", "exit_code", "environment", "cluster", "service", "image",
    "image_tag", "git_sha", "revision", "previous_revision", "migration_task", "smoke_probes",
    "rollback", "result", "reason", "duration_seconds", "notified", "dry_run", "timeline",
    "deployment", "phase",
}  # fmt: skip
STATUS_KEYS = {
    "schema", "command", "ok", "exit_code", "environment", "cluster", "service", "revision",
    "image", "image_tag", "git_sha", "desired", "running", "pending", "steady", "deployments",
    "alarms", "lock", "events", "service_deployment", "traffic_shift",
}  # fmt: skip


def doc(world: World, *args: str) -> dict[str, Any]:
    result = world.cli(*args, "--output", "json")
    parsed: dict[str, Any] = json.loads(result.stdout)  # nothing else on stdout
    assert parsed["exit_code"] == result.exit_code
    assert list(parsed) == sorted(parsed)
    return parsed


def test_deploy_document_is_the_same_shape_on_success_and_failure(world: World) -> None:
    ok = doc(world, "deploy", "--tag", "v1")
    world.stand_in.broken.add("v2")
    failed = doc(world, "deploy", "--tag", "v2")
    assert set(ok) == DEPLOY_KEYS
    assert set(failed) == DEPLOY_KEYS | {"error"}
    assert (ok["ok"], ok["result"], ok["exit_code"]) == (True, "success", 0)
    assert (failed["ok"], failed["result"], failed["exit_code"]) == (False, "rolled_back", 6)
    assert ok["deployment"].startswith("arn:aws:ecs:us-east-1:123456789012:service-deployment/")
    assert (ok["phase"], failed["phase"]) == ("done", "rollback")
    assert failed["error"] == {"kind": "rolled_back", "message": failed["reason"]}
    assert all(set(step) == {"t", "message"} for step in ok["timeline"])
    assert ok["schema"] == failed["schema"] == 1


def test_status_document(world: World) -> None:
    assert doc(world, "deploy", "--tag", "v1")["ok"]
    first = doc(world, "status")
    assert set(first) == STATUS_KEYS
    assert first["steady"] is True
    assert (first["revision"], first["image_tag"]) == ("auto-pipe-task:2", "v1")
    assert set(first["deployments"][0]) == {
        "id", "status", "rollout_state", "revision", "desired", "running", "pending", "failed"
    }  # fmt: skip
    assert first["service_deployment"]["status"] == "SUCCESSFUL"
    assert first["traffic_shift"] is None  # rolling: tests/deploy/test_status_shift.py
    assert doc(world, "status") == first  # stable: nothing changed, nothing differs


def test_errors_are_documents_too(world: World) -> None:
    bad = doc(world, "verify", "--tag", "does-not-exist")
    assert (bad["ok"], bad["exit_code"], bad["error"]["kind"]) == (False, 2, "config_error")
    checks = doc(world, "verify", "--tag", "v1")
    assert {c["status"] for c in checks["checks"]} <= {"OK", "NG", "SKIP"}
    assert set(checks["checks"][0]) == {"name", "status", "detail"}
