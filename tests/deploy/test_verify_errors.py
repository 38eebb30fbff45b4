"""`verify` when AWS answers with an error or the resources are gone: each check turns the
error into NG with the AWS error code (exit 3, nothing changed), never into a crash; a check
that has nothing to look at says SKIP."""

from __future__ import annotations

import json

import pytest

from tests.support.moto import CallLog, World

DENIED = "AccessDeniedException"


def verify(world: World, *args: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    result = world.cli("verify", "--output", "json", *args)
    doc = json.loads(result.stdout)
    found = {c["name"]: (c["status"], c["detail"]) for c in doc.get("checks", [])}
    return result.exit_code, found, result.stderr


def deny(world: World, service: str, operation: str) -> None:
    world.emulator.faults.add(
        service, operation, "error", count=100, code=DENIED, message="not allowed for this role"
    )


@pytest.mark.parametrize(
    ("service", "operation", "check"),
    [
        ("iam", "GetRole", "execution role"),
        ("logs", "DescribeLogGroups", "log group"),
        ("monitoring", "DescribeAlarms", "deployment alarms"),
        ("dynamodb", "DescribeTable", "lock table"),
        ("ecr", "DescribeImageScanFindings", "scan gate"),
    ],
)
def test_an_aws_error_in_a_check_is_ng_with_its_code(
    world: World, calls: CallLog, service: str, operation: str, check: str
) -> None:
    deny(world, service, operation)
    code, found, stderr = verify(world, "--tag", "v1")
    assert code == 3
    status, detail = found[check]
    assert status == "NG"
    assert detail.startswith(f"{DENIED}: ")
    assert "not allowed for this role" in detail
    assert found["cluster"][0] == found["service"][0] == "OK"  # the others still ran
    assert "nothing was changed" in stderr.splitlines()[-1]
    assert calls.writes == []


def test_an_unknown_cluster_is_ng_for_cluster_and_service(world: World) -> None:
    code, found, _ = verify(world, "--tag", "v1", "--cluster", "no-such-cluster")
    assert code == 3
    assert found["cluster"] == ("NG", "no-such-cluster not found or not ACTIVE")
    status, detail = found["service"]
    assert status == "NG"
    assert detail.startswith("ClusterNotFoundException: ")


def test_an_unknown_service_is_ng(world: World) -> None:
    code, found, _ = verify(world, "--tag", "v1", "--service", "no-such-service")
    assert code == 3
    assert found["service"] == ("NG", f"no-such-service not found in {world.settings.cluster}")
    assert found["cluster"][0] == "OK"


def test_a_missing_role_secret_or_lock_table_is_ng_by_name(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = world.settings
    iam = world.aws.iam()
    for policy in iam.list_attached_role_policies(RoleName=s.execution_role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=s.execution_role, PolicyArn=policy["PolicyArn"])
    for name in iam.list_role_policies(RoleName=s.execution_role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=s.execution_role, PolicyName=name)
    iam.delete_role(RoleName=s.execution_role)
    # A secret given by its full ARN is used as given when rendering: only the check looks.
    gone = f"arn:aws:secretsmanager:{s.region}:123456789012:secret:{s.project}-gone-AbCdEf"
    monkeypatch.setenv("AUTOPIPE_SECRETS", json.dumps({**s.secrets, "DB_PASSWORD": gone}))
    world.aws.dynamodb().delete_table(TableName=s.lock_table)
    code, found, stderr = verify(world, "--tag", "v1")
    assert code == 3
    assert found["execution role"] == ("NG", f"role {s.execution_role} does not exist")
    assert found["secret DB_PASSWORD"] == ("NG", f"{gone} does not exist")
    assert found["lock table"] == ("NG", f"{s.lock_table} does not exist")
    assert found["task role"][0] == "OK"
    line = stderr.splitlines()[-1]
    assert line.startswith("error: 3 check(s) NG: execution role, secret DB_PASSWORD, lock table")


def test_a_secret_missing_when_rendering_is_bad_input(world: World) -> None:
    db_secret = world.settings.secrets["DB_PASSWORD"].split(":", 1)[0]
    world.aws.secrets().delete_secret(SecretId=db_secret, ForceDeleteWithoutRecovery=True)
    result = world.cli("verify", "--tag", "v1")
    assert result.exit_code == 2
    line = f"error: secret {db_secret!r} not found in Secrets Manager"
    assert result.stderr.splitlines() == [line]


def test_an_aws_error_while_rendering_stops_verify_with_exit_1(world: World) -> None:
    deny(world, "secretsmanager", "DescribeSecret")
    result = world.cli("verify", "--tag", "v1")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: AWS: An error occurred (AccessDeniedException)")
    assert "DescribeSecret" in line


def test_a_secret_scheduled_for_deletion_is_ng(world: World) -> None:
    api_keys = world.settings.secrets["API_KEYS"]
    world.aws.secrets().delete_secret(SecretId=api_keys, RecoveryWindowInDays=7)
    code, found, _ = verify(world, "--tag", "v1")
    assert code == 3
    assert found["secret API_KEYS"] == ("NG", f"{api_keys} is scheduled for deletion")


def test_without_a_tag_the_live_image_is_kept_and_not_checked(world: World) -> None:
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    code, found, _ = verify(world)
    assert code == 0
    assert found["image"] == ("SKIP", "no image given (keeps the live one)")
    assert "image architecture" not in found


def test_no_alarms_and_no_scan_severities_configured_skip_their_checks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPIPE_ALARMS", ",")  # a list with no names
    monkeypatch.setenv("AUTOPIPE_SCAN_FAIL_ON", ",")
    code, found, _ = verify(world, "--tag", "vulnerable")  # HIGH findings: not a gate now
    assert code == 0
    assert found["deployment alarms"] == ("SKIP", "none configured")
    assert found["scan gate"] == ("SKIP", "scan gate disabled (scan_fail_on is empty)")
