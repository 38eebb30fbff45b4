"""`verify`: read-only checks, each OK / NG / SKIP. Nothing here writes."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from functools import partial
from typing import Any

from autopipe import images, scan_gate
from autopipe.aws import Aws, error_code
from autopipe.check import NG, OK, SKIP, Check
from autopipe.config import Settings
from autopipe.errors import ConfigError
from autopipe.images import ImageRef
from autopipe.resolve import secret_id

__all__ = ["NG", "OK", "SKIP", "Check", "run_checks"]
ECS_TASKS = "ecs-tasks.amazonaws.com"
ALARM_NAMES_PER_CALL = 100  # DescribeAlarms takes at most 100 AlarmNames


def run_checks(
    aws: Aws, settings: Settings, *, image: ImageRef | None, taskdef: dict[str, Any]
) -> list[Check]:
    container: dict[str, Any] = next(
        (c for c in taskdef["containerDefinitions"] if c["name"] == settings.container), {}
    )
    checks: list[Check] = []

    def run(name: str, fn: Callable[[], tuple[str, str]]) -> None:
        try:
            status, detail = fn()
        except Exception as exc:
            status, detail = NG, f"{error_code(exc) or type(exc).__name__}: {exc}"[:300]
        checks.append(Check(name, status, detail))

    run("cluster", lambda: _cluster(aws, settings))
    run("service", lambda: _service(aws, settings))
    if image is None:
        checks.append(Check("image", SKIP, "no image given (keeps the live one)"))
    else:
        _image_checks(aws, settings=settings, image=image, taskdef=taskdef, checks=checks, run=run)
    for label, key in (("execution role", "executionRoleArn"), ("task role", "taskRoleArn")):
        arn = taskdef.get(key)
        if arn:
            run(label, partial(_role, aws, str(arn)))
        else:
            checks.append(Check(label, SKIP, "not set in the task definition"))
    for secret in container.get("secrets", []):
        run(f"secret {secret['name']}", partial(_secret, aws, str(secret["valueFrom"])))
    log_options = container.get("logConfiguration", {}).get("options", {})
    run("log group", lambda: _log_group(aws, log_options.get("awslogs-group", "")))
    checks.append(_alarms_check(aws, settings))
    run("lock table", lambda: _lock_table(aws, settings))
    return checks


def _image_checks(
    aws: Aws,
    *,
    settings: Settings,
    image: ImageRef,
    taskdef: dict[str, Any],
    checks: list[Check],
    run: Callable[[str, Callable[[], tuple[str, str]]], None],
) -> None:
    found = images.manifest(aws, image)
    if found is None:
        checks.append(Check("image", NG, f"{image.repository}@{image.digest} is not in ECR"))
        checks.append(Check("image architecture", SKIP, "no image"))
        checks.append(Check("scan gate", SKIP, "no image"))
        return
    media_type, body = found
    checks.append(Check("image", OK, f"{image.repository}@{image.digest[:19]}… ({image.tag})"))
    wanted = taskdef.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64")
    run("image architecture", lambda: _architecture(aws, image, media_type, body, wanted))
    if not settings.scan_fail_on:
        checks.append(Check("scan gate", SKIP, "scan gate disabled (scan_fail_on is empty)"))
        return
    try:
        checks.extend(
            scan_gate.evaluate(
                aws, settings, image=image, media_type=media_type, body=body, runs_on=wanted
            )
        )
    except ConfigError:
        raise  # a bad --scan-report is bad input, not a failed check
    except Exception as exc:
        checks.append(Check("scan gate", NG, f"{error_code(exc) or type(exc).__name__}: {exc}"))


def _cluster(aws: Aws, settings: Settings) -> tuple[str, str]:
    found = aws.ecs().describe_clusters(clusters=[settings.cluster])["clusters"]
    if found and found[0].get("status") == "ACTIVE":
        return OK, f"{settings.cluster} ACTIVE"
    return NG, f"{settings.cluster} not found or not ACTIVE"


def _service(aws: Aws, settings: Settings) -> tuple[str, str]:
    found = aws.ecs().describe_services(cluster=settings.cluster, services=[settings.service])
    for s in found["services"]:
        if s.get("status") == "ACTIVE":
            counts = f"desired {s.get('desiredCount')}, running {s.get('runningCount')}"
            return OK, f"{settings.service} ACTIVE ({counts})"
    return NG, f"{settings.service} not found in {settings.cluster}"


def _architecture(
    aws: Aws, image: ImageRef, media_type: str, body: dict[str, Any], wanted: str
) -> tuple[str, str]:
    archs = images.architectures(aws, image, media_type, body)
    if not archs:
        return NG, "the image's architecture cannot be determined"
    if wanted in archs:
        return OK, f"image {'/'.join(sorted(archs))} runs on runtimePlatform {wanted}"
    return NG, f"image is {'/'.join(sorted(archs))} but runtimePlatform is {wanted}"


def _role(aws: Aws, arn: str) -> tuple[str, str]:
    name = arn.rsplit("/", 1)[-1]
    try:
        role = aws.iam().get_role(RoleName=name)["Role"]
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return NG, f"role {name} does not exist"
        raise
    if trusts_ecs_tasks(role.get("AssumeRolePolicyDocument", {})):
        return OK, f"{name} trusts {ECS_TASKS}"
    return NG, f"{name} does not trust {ECS_TASKS}"


def trusts_ecs_tasks(document: Any) -> bool:
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        services = st.get("Principal", {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if st.get("Effect") == "Allow" and "sts:AssumeRole" in actions and ECS_TASKS in services:
            return True
    return False


def _secret(aws: Aws, value_from: str) -> tuple[str, str]:
    try:
        found = aws.secrets().describe_secret(SecretId=secret_id(value_from))
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return NG, f"{secret_id(value_from)} does not exist"
        raise
    if found.get("DeletedDate"):
        return NG, f"{found['Name']} is scheduled for deletion"
    return OK, str(found["Name"])


def _log_group(aws: Aws, name: str) -> tuple[str, str]:
    if not name:
        return SKIP, "no awslogs-group in the task definition"
    groups = aws.logs().describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if any(g.get("logGroupName") == name for g in groups):
        return OK, name
    return NG, f"{name} does not exist"


def _alarms_check(aws: Aws, settings: Settings) -> Check:
    try:
        return _alarms(aws, settings)
    except Exception as exc:
        return Check("deployment alarms", NG, f"{error_code(exc) or type(exc).__name__}: {exc}")


def _alarms(aws: Aws, settings: Settings) -> Check:
    """Every configured alarm, metric or composite
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html:
    at most 100 AlarmNames per call, results paged by NextToken, composite alarms only when
    AlarmTypes asks for them). One already in ALARM would roll back every deploy (ECS's alarm
    rollback watches it too): NG, unless `allow_alarm` gives the reason to go ahead anyway."""
    name = "deployment alarms"
    if not settings.alarms:
        return Check(name, SKIP, "none configured")
    wanted = list(dict.fromkeys(settings.alarms))
    states: dict[str, str] = {}
    pages = aws.cloudwatch().get_paginator("describe_alarms")
    for start in range(0, len(wanted), ALARM_NAMES_PER_CALL):
        chunk = wanted[start : start + ALARM_NAMES_PER_CALL]
        for page in pages.paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                states[alarm["AlarmName"]] = alarm["StateValue"]
    if missing := [a for a in wanted if a not in states]:
        return Check(name, NG, f"missing: {', '.join(missing)}")
    firing = [a for a in wanted if states[a] == "ALARM"]
    summary = ", ".join(f"{a} {states[a]}" for a in wanted)
    if not firing:
        return Check(name, OK, summary)
    if settings.allow_alarm:
        detail = f"in ALARM: {', '.join(firing)}; allowed: {settings.allow_alarm} ({summary})"
        return Check(name, OK, detail, override=settings.allow_alarm)
    return Check(
        name,
        NG,
        f"already in ALARM before the deploy: {', '.join(firing)} (it would roll the deploy "
        'back); --allow-alarm "reason" to deploy anyway',
    )


def _lock_table(aws: Aws, settings: Settings) -> tuple[str, str]:
    try:
        table = aws.dynamodb().describe_table(TableName=settings.lock_table)["Table"]
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return NG, f"{settings.lock_table} does not exist"
        raise
    return OK, f"{settings.lock_table} {table.get('TableStatus')}"
