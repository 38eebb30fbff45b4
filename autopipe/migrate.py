"""The migration: a one-off Fargate task from the new revision with the command overridden,
in the service's own subnets and security groups. Exit code 0 or the rollout does not start.

A task that never ran its container stops with a stop code and no exit code
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html, `stopCode`): that is
a failed migration too, reported with ECS's reason. An interrupt while the task runs stops it
(StopTask) and waits, bounded, until ECS reports it STOPPED, so a re-run never starts a second
`alembic upgrade` beside a live one (the migration also holds a PostgreSQL advisory lock, and
PostgreSQL rolls back the transaction of a connection that ends)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from autopipe import ecs
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.errors import MigrationFailed
from autopipe.output import Reporter
from autopipe.persist import Persistence
from autopipe.signals import deferred_signals

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
    started: Callable[[str], None] | None = None,
) -> str:
    """Run it and wait; returns the task ARN. Raises MigrationFailed on a non-zero exit."""
    # clientToken makes RunTask idempotent, so a retry after a dropped connection cannot start
    # a second migration (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
    token = uuid.uuid4().hex
    persist = Persistence(reporter, sleep=sleep)
    response = persist.call(
        "migrate: RunTask",
        lambda: _run_task(aws, settings, taskdef_arn, network, token),
        within=60,
    )
    if response.get("failures") or not response.get("tasks"):
        raise MigrationFailed(f"the migration task did not start: {response.get('failures')}")
    task_arn = response["tasks"][0]["taskArn"]
    if started is not None:
        started(task_arn)
    reporter.step(
        f"migration task {task_arn.rsplit('/', 1)[-1]} started from {ecs.short(taskdef_arn)}: "
        + " ".join(settings.migration_command)
    )
    try:
        task = _wait(aws, settings, reporter, task_arn, sleep)
    except KeyboardInterrupt:
        with deferred_signals():
            state = _stop_and_wait(aws, settings, task_arn, sleep)
        raise MigrationInterrupted(task_arn, state) from None
    container: dict[str, Any] = next(
        (dict(c) for c in task.get("containers", []) if c.get("name") == settings.container), {}
    )
    code = container.get("exitCode")
    if code != 0:
        reason = task.get("stoppedReason") or container.get("reason") or "no reason given"
        if code is None:
            reason = f"stop code {task.get('stopCode', 'none')}: {reason}"
        tail = _log_tail(aws, settings, task_arn)
        raise MigrationFailed(
            f"the migration exited {code} ({reason}); the service was not touched"
            + (f"\nlast log lines:\n{tail}" if tail else ""),
            details={"migration_task": task_arn, "migration_exit_code": code},
        )
    reporter.step("migration task exited 0", style="green")
    return str(task_arn)


def _run_task(
    aws: Aws, settings: Settings, taskdef_arn: str, network: dict[str, Any], token: str
) -> Any:
    return aws.ecs().run_task(
        cluster=settings.cluster,
        taskDefinition=taskdef_arn,
        launchType="FARGATE",
        count=1,
        startedBy=STARTED_BY,
        clientToken=token,
        networkConfiguration=cast("NetworkConfigurationTypeDef", network),
        overrides={
            "containerOverrides": [
                {"name": settings.container, "command": list(settings.migration_command)}
            ]
        },
    )


class MigrationInterrupted(KeyboardInterrupt):
    """Ctrl-C / SIGTERM during the migration; the task was stopped (or not, as `state` says)."""

    def __init__(self, task_arn: str, state: str) -> None:
        super().__init__(state)
        self.task_arn, self.state = task_arn, state


def _wait(
    aws: Aws, settings: Settings, reporter: Reporter, task_arn: str, sleep: Callable[[float], None]
) -> dict[str, Any]:
    deadline = time.monotonic() + settings.migration_timeout
    last_status = ""
    persist = Persistence(reporter, sleep=sleep)
    while True:
        task = persist.call(
            "migrate: DescribeTasks", lambda: _describe(aws, settings, task_arn), within=60
        )
        status = task.get("lastStatus", "?")
        if status != last_status:
            reporter.step(f"migration task: {status}")
            last_status = status
        if status == "STOPPED":
            return task
        if time.monotonic() > deadline:
            state = _stop_and_wait(aws, settings, task_arn, sleep)
            raise MigrationFailed(
                f"the migration task ran longer than {settings.migration_timeout:g}s ({state})",
                details={"migration_task": task_arn},
            )
        sleep(settings.poll_interval)


def _describe(aws: Aws, settings: Settings, task_arn: str) -> dict[str, Any]:
    found = aws.ecs().describe_tasks(cluster=settings.cluster, tasks=[task_arn])["tasks"]
    # Right after RunTask a read may not find the task yet (eventual consistency).
    return dict(found[0]) if found else {"lastStatus": "PROVISIONING"}


# ECS sends SIGTERM, then SIGKILL after the container's stopTimeout (30 s in the template);
# a local Ctrl-C can wait that long, a cancelled CI job is killed ~10 s after its first signal.
STOP_WAIT = 35.0


def _stop_and_wait(
    aws: Aws, settings: Settings, task_arn: str, sleep: Callable[[float], None]
) -> str:
    """StopTask, then wait (bounded) for STOPPED. Returns what happened, for the message."""
    short_id = task_arn.rsplit("/", 1)[-1]
    try:
        aws.ecs().stop_task(cluster=settings.cluster, task=task_arn, reason="autopipe: interrupted")
    except Exception as exc:
        return (
            f"the migration task {short_id} could not be stopped ({type(exc).__name__}): "
            "it may still be running"
        )
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        try:
            if _describe(aws, settings, task_arn).get("lastStatus") == "STOPPED":
                return f"the migration task {short_id} was stopped"
        except Exception:  # noqa: S110 - keep waiting until the bound
            pass
        sleep(min(settings.poll_interval, 1.0))
    return f"the migration task {short_id} was asked to stop and is not STOPPED yet"


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
