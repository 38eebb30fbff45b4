"""`verify`: OK / NG / SKIP per check, read-only; the architecture and scan gates stop a
deploy before anything changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from tests.deploy.ecr_state import post_scan, push_index, trivy_report
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
    if tag == "multi":  # both platforms scanned by digest, as ECR does
        push_index(world, "multi", {"amd64": {"LOW": 1}, "arm64": {"LOW": 1}})
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


def scan_checks(world: World, *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    result = world.cli("verify", "--output", "json", *args)
    assert result.exit_code in (0, 3), result.output
    doc = json.loads(result.stdout)
    found = {c["name"]: (c["status"], c["detail"]) for c in doc.get("checks", [])}
    return result.exit_code, found


def test_an_index_is_judged_per_platform_and_its_own_scan_is_no_evidence(world: World) -> None:
    pushed = push_index(world, "idx", {"amd64": {"LOW": 1}, "arm64": None})
    post_scan(world, pushed.index, {})  # a clean "scan" of the index itself counts for nothing
    code, found = scan_checks(world, "--tag", "idx")
    assert code == 3
    assert found["scan linux/amd64"][0] == "OK"
    assert "ECR basic scan COMPLETE: LOW 1" in found["scan linux/amd64"][1]
    assert "the task runs this one" in found["scan linux/amd64"][1]
    assert found["scan linux/arm64"][0] == "NG"
    assert "not scanned (scan_missing = fail)" in found["scan linux/arm64"][1]
    assert "the task runs" not in found["scan linux/arm64"][1]
    assert found["scan gate"][0] == "NG"
    assert not any("unknown" in name for name in found)  # the attestation is not a platform


@pytest.mark.parametrize(
    ("policy", "arm", "gate", "code"),
    [("fail", "NG", "NG", 3), ("warn", "OK", "OK", 0), ("skip", "SKIP", "OK", 0)],
)
def test_what_a_missing_scan_means(  # noqa: PLR0917 - the parameters
    world: World, monkeypatch: pytest.MonkeyPatch, policy: str, arm: str, gate: str, code: int
) -> None:
    push_index(world, "idx", {"amd64": {}, "arm64": None})
    monkeypatch.setenv("AUTOPIPE_SCAN_MISSING", policy)
    exit_code, found = scan_checks(world, "--tag", "idx")
    assert (exit_code, found["scan linux/arm64"][0], found["scan gate"][0]) == (code, arm, gate)
    if policy == "warn":
        assert "NOT SCANNED" in found["scan linux/arm64"][1]


def test_nothing_scanned_and_skip_skips_the_gate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_index(world, "idx", {"amd64": None, "arm64": None})
    monkeypatch.setenv("AUTOPIPE_SCAN_MISSING", "skip")
    assert scan_checks(world, "--tag", "idx")[1]["scan gate"][0] == "SKIP"


def test_enhanced_findings_count_only_active_ones(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = push_index(world, "idx", {"amd64": {}, "arm64": None})
    post_scan(world, pushed.platforms["arm64"], {"HIGH": 1, "LOW": 2}, enhanced=True,
              suppressed={"CRITICAL": 1})  # fmt: skip
    code, found = scan_checks(world, "--tag", "idx")
    status, detail = found["scan linux/arm64"]
    assert (code, status) == (3, "NG")
    assert detail.startswith(
        "findings at HIGH: ECR enhanced (Inspector) scan ACTIVE: HIGH 1, LOW 2"
    )
    monkeypatch.setenv("AUTOPIPE_SCAN_FAIL_ON", "CRITICAL")  # the suppressed CRITICAL is no block
    assert scan_checks(world, "--tag", "idx")[0] == 0


def test_the_pipelines_trivy_report_is_evidence_for_its_platform(
    world: World, tmp_path: Path
) -> None:
    pushed = push_index(world, "idx", {"amd64": {}, "arm64": None})
    by_config = trivy_report(tmp_path / "trivy-linux-arm64.json",
                             image_id=pushed.configs["arm64"], arch="arm64")  # fmt: skip
    code, found = scan_checks(world, "--tag", "idx", "--scan-report", by_config)
    assert code == 0
    assert found["scan linux/arm64"] == (
        "OK",
        "Trivy trivy-linux-arm64.json: no findings; ECR: not scanned (status MISSING) "
        f"({pushed.platforms['arm64'][:19]}…)",
    )
    # Matched by the index digest it was pulled by plus its architecture; a HIGH fails it.
    repo = f"{world.settings.repository}@{pushed.index}"
    bad = trivy_report(tmp_path / "bad.json", repo_digests=(repo,), arch="arm64",
                       severities=("HIGH", "MEDIUM"))  # fmt: skip
    code, found = scan_checks(world, "--tag", "idx", "--scan-report", bad)
    assert code == 3
    assert found["scan linux/arm64"][1].startswith("findings at HIGH: Trivy bad.json: HIGH 1")
    assert found["scan linux/amd64"][0] == "OK"  # an arm64 report says nothing about amd64
    other = trivy_report(tmp_path / "other.json", image_id="sha256:" + "0" * 64, arch="amd64")
    code, found = scan_checks(world, "--tag", "idx", "--scan-report", by_config,
                              "--scan-report", other)  # fmt: skip
    assert code == 0
    assert "report(s) matching no platform: " + other in found["scan gate"][1]


def test_a_bad_scan_report_is_bad_input(world: World, tmp_path: Path) -> None:
    push_index(world, "idx", {"amd64": {}})
    (tmp_path / "table.txt").write_text("Total: 0 (HIGH: 0, CRITICAL: 0)\n")
    result = world.cli("verify", "--tag", "idx", "--scan-report", str(tmp_path / "table.txt"))
    assert result.exit_code == 2
    assert "not a readable Trivy JSON report" in result.stderr


def test_an_alarm_already_in_alarm_fails_verify_unless_allowed(world: World) -> None:
    world.set_alarm("ALARM")
    result = world.cli("verify", "--tag", "v1", "--output", "json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    alarm = next(c for c in doc["checks"] if c["name"] == "deployment alarms")
    assert alarm["status"] == "NG"
    assert "already in ALARM before the deploy" in alarm["detail"]
    assert "--allow-alarm" in alarm["detail"]
    allowed = world.cli("verify", "--tag", "v1", "--output", "json",
                        "--allow-alarm", "hotfix for the 5xx itself")  # fmt: skip
    assert allowed.exit_code == 0, allowed.output
    doc = json.loads(allowed.stdout)
    assert doc["overrides"] == [{"check": "deployment alarms",
                                 "reason": "hotfix for the 5xx itself"}]  # fmt: skip
    assert "allowed: hotfix for the 5xx itself" in allowed.stdout


def test_a_deploy_does_not_start_while_an_alarm_is_red(world: World) -> None:
    world.set_alarm("ALARM")
    before = world.revisions()
    result = world.cli("deploy", "--tag", "v2")
    assert result.exit_code == 3, result.output
    assert "already in ALARM before the deploy" in result.stdout
    assert world.revisions() == before


@pytest.fixture
def paged_alarms(monkeypatch: pytest.MonkeyPatch) -> None:
    """DescribeAlarms pages its results (MaxRecords, default 50, and NextToken:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html);
    moto returns everything at once, so page its answer as CloudWatch does."""
    original = CloudWatchResponse.describe_alarms

    def paged(self: CloudWatchResponse) -> ActionResult:
        everything: Any = original(self).result
        alarms = [*everything["MetricAlarms"], *everything["CompositeAlarms"]]
        start = int(self._get_param("NextToken") or 0)
        page = alarms[start : start + 50]
        result: dict[str, Any] = {
            "MetricAlarms": [a for a in page if a.rule is None],
            "CompositeAlarms": [a for a in page if a.rule is not None],
        }
        if start + 50 < len(alarms):
            result["NextToken"] = str(start + 50)
        return ActionResult(result)

    monkeypatch.setattr(CloudWatchResponse, "describe_alarms", paged)
    # moto 5.2's PutMetricAlarm handler reads AlarmRule "to re-use this method for composite
    # alarms", but the PutCompositeAlarm action is not wired to it: wire it.
    monkeypatch.setattr(CloudWatchResponse, "put_composite_alarm",
                        CloudWatchResponse.put_metric_alarm, raising=False)  # fmt: skip


@pytest.mark.usefixtures("paged_alarms")
def test_alarms_are_read_in_pages_and_composites_count(
    world: World, monkeypatch: pytest.MonkeyPatch, calls: CallLog
) -> None:
    cw = world.aws.cloudwatch()
    names = [f"auto-pipe-many-{n:03d}" for n in range(130)]
    for name in names:
        cw.put_metric_alarm(AlarmName=name, Namespace="AWS/ECS", MetricName="CPUUtilization",
                            Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=90,
                            ComparisonOperator="GreaterThanThreshold")  # fmt: skip
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="t")
    cw.put_composite_alarm(AlarmName="auto-pipe-composite", AlarmRule=f'ALARM("{names[0]}")')
    cw.set_alarm_state(AlarmName="auto-pipe-composite", StateValue="OK", StateReason="t")
    monkeypatch.setenv("AUTOPIPE_ALARMS", ",".join([*names, "auto-pipe-composite"]))
    code, found = scan_checks(world, "--tag", "v1")
    assert (code, found["deployment alarms"][0]) == (0, "OK")
    assert "auto-pipe-many-129 OK" in found["deployment alarms"][1]  # past the first 100 names
    # 131 names: 100 per call (2 pages of 50), then 31: at least three calls.
    assert calls.calls.count(("cloudwatch", "DescribeAlarms")) >= 3
    cw.set_alarm_state(AlarmName="auto-pipe-composite", StateValue="ALARM", StateReason="t")
    code, found = scan_checks(world, "--tag", "v1")
    assert (code, found["deployment alarms"][0]) == (3, "NG")
    assert "in ALARM before the deploy: auto-pipe-composite" in found["deployment alarms"][1]
    cw.set_alarm_state(AlarmName="auto-pipe-composite", StateValue="OK", StateReason="t")
    cw.set_alarm_state(AlarmName=names[120], StateValue="ALARM", StateReason="t")  # on page 3
    code, found = scan_checks(world, "--tag", "v1")
    assert "in ALARM before the deploy: auto-pipe-many-120" in found["deployment alarms"][1]
