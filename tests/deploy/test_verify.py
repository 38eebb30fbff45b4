"""`verify`: OK / NG / SKIP per check, read-only; the architecture and scan gates stop a
deploy before anything changes."""

from __future__ import annotations

import json

import pytest

from tests.support.moto import CallLog, World


def checks(world: World, *args: str) -> tuple[int, dict[str, str]]:
    result = world.cli("verify", "--output", "json", *args)
    doc = json.loads(result.stdout)
    return result.exit_code, {c["name"]: c["status"] for c in doc.get("checks", [])}


def test_everything_ok(world: World, calls: CallLog) -> None:
    result = world.cli("verify", "--tag", "v1")
    assert result.exit_code == 0, result.output
    for name in ("cluster", "service", "image", "image architecture", "scan gate",
                 "execution role", "task role", "secret API_KEYS", "secret DB_PASSWORD",
                 "log group", "deployment alarms", "lock table"):  # fmt: skip
        assert any(line.startswith("OK") and name in line for line in result.stdout.splitlines()), (
            name
        )
    assert calls.calls
    assert not calls.writes


@pytest.mark.parametrize(
    ("tag", "architecture", "status"),
    [
        ("arm", "X86_64", "NG"),  # single manifest: the config blob says arm64
        ("arm", "ARM64", "OK"),
        ("multi", "ARM64", "OK"),  # an index lists both platforms
        ("multi", "X86_64", "OK"),
        ("v1", "ARM64", "NG"),
    ],
)
def test_image_architecture_against_runtime_platform(
    world: World, monkeypatch: pytest.MonkeyPatch, tag: str, architecture: str, status: str
) -> None:
    monkeypatch.setenv("AUTOPIPE_CPU_ARCHITECTURE", architecture)
    code, found = checks(world, "--tag", tag)
    assert found["image architecture"] == status
    assert code == (3 if status == "NG" else 0)


def test_scan_gate(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    code, found = checks(world, "--tag", "vulnerable")
    assert (code, found["scan gate"]) == (3, "NG")
    monkeypatch.setenv("AUTOPIPE_SCAN_FAIL_ON", "CRITICAL")  # HIGH is tolerated now
    code, found = checks(world, "--tag", "vulnerable")
    assert (code, found["scan gate"]) == (0, "OK")


def test_missing_scan_fails_unless_configured_to_skip(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert checks(world, "--tag", "unscanned")[1]["scan gate"] == "NG"
    monkeypatch.setenv("AUTOPIPE_SCAN_MISSING", "skip")
    assert checks(world, "--tag", "unscanned") == (0, checks(world, "--tag", "unscanned")[1])
    assert checks(world, "--tag", "unscanned")[1]["scan gate"] == "SKIP"


def test_roles_secrets_and_log_group(world: World) -> None:
    iam = world.aws.iam()
    iam.update_assume_role_policy(
        RoleName=world.settings.task_role,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}),
    )  # fmt: skip
    world.aws.logs().delete_log_group(logGroupName=world.settings.log_group)
    world.aws.cloudwatch().delete_alarms(AlarmNames=list(world.settings.alarms))
    code, found = checks(world, "--tag", "v1")
    assert code == 3
    assert found["task role"] == "NG"  # exists, but does not trust ecs-tasks
    assert found["execution role"] == "OK"
    assert found["log group"] == "NG"
    assert found["deployment alarms"] == "NG"


def test_unknown_tag_is_bad_input(world: World) -> None:
    result = world.cli("verify", "--tag", "nope")
    assert result.exit_code == 2
    assert "not found in ECR" in result.stderr


def test_arch_mismatch_stops_a_deploy_before_anything_changes(
    world: World, calls: CallLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPIPE_CPU_ARCHITECTURE", "ARM64")
    before = world.revisions()
    result = world.cli("deploy", "--tag", "v1")
    assert result.exit_code == 3, result.output
    assert "NG   image architecture" in result.stdout
    assert world.revisions() == before
    # The lock (taken first, as deploy does) was the only write, and it was given back.
    assert {op for _, op in calls.writes} == {"PutItem", "UpdateItem"}
    assert world.cli("lock", "status").stdout.strip().endswith("free")


def test_scan_gate_stops_a_deploy(world: World) -> None:
    before = world.revisions()
    result = world.cli("deploy", "--tag", "vulnerable")
    assert result.exit_code == 3
    assert "findings at HIGH" in result.stdout
    assert world.revisions() == before
    assert "verify_failed" in world.slack.payloads[-1]["text"] or any(
        "verify" in json.dumps(p) for p in world.slack.payloads
    )
