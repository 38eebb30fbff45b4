"""The migration: a one-off Fargate task from the new revision with the command overridden,
in the service's own subnets and security groups. Exit code 0 or the rollout does not start."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from autopipe import ecs
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.errors import MigrationFailed
from autopipe.output import Reporter

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import NetworkConfigurationTypeDef

STARTED_BY = "autopipe-migrate"


def run_migration(
    aws: Aws,
    settings: Settings,
    reporter: Reporter,
    taskdef_arn: str,
    *,
    network: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run it and wait; returns the task ARN. Raises MigrationFailed on a non-zero exit."""
    response = aws.ecs().run_task(
        cluster=settings.cluster,
        taskDefinition=taskdef_arn,
        launchType="FARGATE",
        count=1,
        startedBy=STARTED_BY,
        networkConfiguration=cast("NetworkConfigurationTypeDef", network),
        overrides={
            "containerOverrides": [
                {"name": settings.container, "command": list(settings.migration_command)}
            ]
        },
    )
    if response.get("failures") or not response.get("tasks"):
        raise MigrationFailed(f"the migration task did not start: {response.get('failures')}")
    task_arn = response["tasks"][0]["taskArn"]
    reporter.step(
        f"migration task {task_arn.rsplit('/', 1)[-1]} started from {ecs.short(taskdef_arn)}: "
        + " ".join(settings.migration_command)
    )
    deadline = time.monotonic() + settings.migration_timeout
    last_status = ""
    while True:
        task = aws.ecs().describe_tasks(cluster=settings.cluster, tasks=[task_arn])["tasks"][0]
        status = task.get("lastStatus", "?")
        if status != last_status:
            reporter.step(f"migration task: {status}")
            last_status = status
        if status == "STOPPED":
            break
        if time.monotonic() > deadline:
            aws.ecs().stop_task(cluster=settings.cluster, task=task_arn, reason="autopipe timeout")
            raise MigrationFailed(
                f"the migration task ran longer than {settings.migration_timeout:g}s (stopped)",
                details={"migration_task": task_arn},
            )
        sleep(settings.poll_interval)
    container: dict[str, Any] = next(
        (dict(c) for c in task.get("containers", []) if c.get("name") == settings.container), {}
    )
    code = container.get("exitCode")
    if code != 0:
        reason = task.get("stoppedReason") or container.get("reason") or "no reason given"
        tail = _log_tail(aws, settings, task_arn)
        raise MigrationFailed(
            f"the migration exited {code} ({reason}); the service was not touched"
            + (f"\nlast log lines:\n{tail}" if tail else ""),
            details={"migration_task": task_arn, "migration_exit_code": code},
        )
    reporter.step("migration task exited 0", style="green")
    return str(task_arn)


def _log_tail(aws: Aws, settings: Settings, task_arn: str, lines: int = 20) -> str:
    """The task's last log lines (awslogs stream prefix/container/task-id), best effort."""
    stream = f"{settings.log_stream_prefix}/{settings.container}/{task_arn.rsplit('/', 1)[-1]}"
    try:
        events = aws.logs().get_log_events(
            logGroupName=settings.log_group, logStreamName=stream, limit=lines, startFromHead=False
        )["events"]
    except Exception:
        return ""
    return "\n".join(str(e.get("message", "")) for e in events)
