"""Logs, alerting, alarms (with the right metrics), SLO burn-rate alarms and the dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopipe.config import load_settings
from tests.infra.conftest import ROOT, Synth

STACKS = ("AutoPipe-staging", "AutoPipe-production")


def alarms(synth: Synth, stack: str) -> dict[str, dict[str, Any]]:
    found = synth.resources(stack, "AWS::CloudWatch::Alarm").values()
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in found}


def metric_names(alarm: dict[str, Any]) -> set[tuple[str, str]]:
    if "MetricName" in alarm:
        return {(alarm["Namespace"], alarm["MetricName"])}
    return {
        (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"])
        for q in alarm["Metrics"]
        if "MetricStat" in q
    }


def topics(synth: Synth, stack: str) -> dict[str, str]:
    return {
        k: r["Properties"]["TopicName"]
        for k, r in synth.resources(stack, "AWS::SNS::Topic").items()
    }


@pytest.mark.parametrize("stack", STACKS)
def test_alarms_exist_with_the_right_metrics(synth: Synth, stack: str) -> None:
    p = f"auto-pipe-{stack.split('-')[1]}"
    found = alarms(synth, stack)
    expect = {
        "5xx": {
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
            ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
            ("AWS/ApplicationELB", "RequestCount"),
        },
        "latency-p99": {("AWS/ApplicationELB", "TargetResponseTime")},
        "unhealthy-hosts": {("AWS/ApplicationELB", "UnHealthyHostCount")},
        "no-healthy-hosts": {("AWS/ApplicationELB", "HealthyHostCount")},
        "cpu-high": {("AWS/ECS", "CPUUtilization")},
        "memory-high": {("AWS/ECS", "MemoryUtilization")},
        "app-errors": {("AutoPipe", "ErrorCount"), ("AutoPipe", "RequestCount")},
        "app-latency-p99": {("AutoPipe", "Latency")},
        "db-storage-low": {("AWS/RDS", "FreeStorageSpace")},
    }
    for short, metrics in expect.items():
        assert metric_names(found[f"{p}-{short}"]) == metrics, short
    assert found[f"{p}-latency-p99"]["ExtendedStatistic"] == "p99"
    assert found[f"{p}-app-latency-p99"]["ExtendedStatistic"] == "p99"
    app = found[f"{p}-app-latency-p99"]["Dimensions"]
    assert app == [{"Name": "Service", "Value": "auto-pipe-service"}]


def dimensions(alarm: dict[str, Any]) -> set[str]:
    found = {d["Name"] for d in alarm.get("Dimensions", [])}
    for q in alarm.get("Metrics", []):
        metric = q.get("MetricStat", {}).get("Metric", {})
        found |= {d["Name"] for d in metric.get("Dimensions", [])}
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_deployment_alarms_see_both_target_groups(synth: Synth, stack: str) -> None:
    """The alarms autopipe.toml gives ECS for rollback read the load balancer or the app, never
    one target group: during a blue/green or canary bake the new tasks are in the other one."""
    env = stack.split("-")[1]
    deployment = load_settings(config=ROOT / "autopipe.toml", env=env, environ={}).alarms
    found = alarms(synth, stack)
    assert deployment
    assert set(deployment) <= set(found)
    for name in deployment:
        assert "TargetGroup" not in dimensions(found[name]), name


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_notifies_its_severity_topic(synth: Synth, stack: str) -> None:
    names = topics(synth, stack)
    composites = [
        c["Properties"] for c in synth.resources(stack, "AWS::CloudWatch::CompositeAlarm").values()
    ]
    notifying = [a for a in alarms(synth, stack).values() if a.get("AlarmActions")]
    for alarm in [*notifying, *composites]:
        severity = alarm["AlarmDescription"].split("]")[0].lstrip("[")
        assert severity in ("page", "ticket")
        (action,) = alarm["AlarmActions"]
        assert names[action["Ref"]].endswith(f"-{severity}")
        assert alarm["OKActions"] == alarm["AlarmActions"]
    silent = [n for n, a in alarms(synth, stack).items() if not a.get("AlarmActions")]
    assert silent  # burn-rate windows: they only feed the composites
    assert all("-slo-" in n for n in silent)


@pytest.mark.parametrize("stack", STACKS)
def test_slo_burn_rate_alarms_are_multi_window(synth: Synth, stack: str) -> None:
    p = f"auto-pipe-{stack.split('-')[1]}"
    composites = {
        c["Properties"]["AlarmName"]: c["Properties"]["AlarmRule"]
        for c in synth.resources(stack, "AWS::CloudWatch::CompositeAlarm").values()
    }
    assert set(composites) == {
        f"{p}-slo-{sli}-{sev}" for sli in ("availability", "latency") for sev in ("page", "ticket")
    }
    by_id = {
        k: a["Properties"]["AlarmName"]
        for k, a in synth.resources(stack, "AWS::CloudWatch::Alarm").items()
    }
    rule = composites[f"{p}-slo-availability-page"]["Fn::Join"][1]
    text = "".join(
        by_id[part["Fn::GetAtt"][0]] if isinstance(part, dict) else part for part in rule
    )
    burn = f"{p}-slo-availability-burn"
    assert text == (
        f'((ALARM("{burn}-1h-x14.4") AND ALARM("{burn}-5m-x14.4")) OR '
        f'(ALARM("{burn}-6h-x6") AND ALARM("{burn}-30m-x6")))'
    )
    found = alarms(synth, stack)
    one_hour = found[f"{p}-slo-availability-burn-1h-x14.4"]
    expression = next(q["Expression"] for q in one_hour["Metrics"] if "Expression" in q)
    assert expression.endswith("/ 0.001")  # 1 - 99.9 %
    assert one_hour["Threshold"] == 14.4
    latency = found[f"{p}-slo-latency-burn-1d-x3"]
    stats = {q["MetricStat"]["Stat"] for q in latency["Metrics"] if "MetricStat" in q}
    assert stats == {"PR(:0.3)"}
    periods = {q["MetricStat"]["Period"] for q in latency["Metrics"] if "MetricStat" in q}
    assert periods == {86400}


@pytest.mark.parametrize("stack", STACKS)
def test_topics_are_encrypted_with_email_parameters(synth: Synth, stack: str) -> None:
    for topic in synth.resources(stack, "AWS::SNS::Topic").values():
        assert "KmsMasterKeyId" in topic["Properties"]
    subscriptions = synth.resources(stack, "AWS::SNS::Subscription").values()
    assert len(subscriptions) == 2
    for subscription in subscriptions:
        assert subscription["Properties"]["Protocol"] == "email"
        assert "Condition" in subscription  # only when the email parameter is set
        parameter = subscription["Properties"]["Endpoint"]["Ref"]
        assert parameter in ("PageEmail", "TicketEmail")
        assert synth.template(stack)["Parameters"][parameter]["Type"] == "String"


@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_shows_red_and_use(synth: Synth, stack: str) -> None:
    body = json.dumps(synth.one(stack, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in (
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",  # RED
        "ErrorCount",
        "Latency",  # app RED (EMF)
        "CPUUtilization",
        "MemoryUtilization",
        "RejectedConnectionCount",  # USE
        "DatabaseConnections",
        "FreeStorageSpace",
        "HealthyHostCount",
    ):
        assert metric in body, metric
