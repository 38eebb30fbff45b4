"""One-off tasks (RunTask, e.g. the migration): how they stop, and StopTask.

- A task whose container ran stops with its exit code and stop code EssentialContainerExited.
- A task that never started its container (image pull, secrets, ENI) stops with stop code
  TaskFailedToStart and no exit code at all: there was no process to exit.
- StopTask: the task's desired status turns STOPPED, its stop code UserInitiated; ECS sends
  SIGTERM and, after the container's stop timeout, SIGKILL (exit code 137) when the process
  did not exit first. A migration mid-transaction is modelled as not exiting on SIGTERM.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html (stopCode)
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator

EXITED = "Essential container in task exited"
# What ECS writes in stoppedReason for each stop code (representative texts).
REASONS = {
    "TaskFailedToStart": "CannotPullContainerError: pull image manifest has been retried 5 "
    "time(s): failed to resolve ref: not found",
    "EssentialContainerExited": EXITED,
    "UserInitiated": "Task stopped by user",
    "ServiceSchedulerInitiated": "Scaling activity initiated by deployment",
    "SpotInterruption": "Your Spot Task was interrupted.",
}
SIGKILL_EXIT = 137


def tag_of(backend: Any, arn: str) -> str:
    definition = backend.describe_task_definition(arn)
    for container in definition.container_definitions:
        for entry in container.get("environment", []):
            if entry.get("name") == "IMAGE_TAG":
                return str(entry.get("value"))
    return ""


@dataclass
class Running:
    task: Any
    tag: str
    exits_at: float  # monotonic; inf = until StopTask
    killed_at: float | None = None


class OneOffTasks:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.lock = threading.RLock()
        self.running: dict[str, Running] = {}

    def clear(self) -> None:
        with self.lock:
            self.running.clear()

    def on_run(self, backend: Any, task: Any) -> None:
        policy = self.emulator.policy
        tag = tag_of(backend, task.task_definition_arn)
        task.created_at = datetime.now(UTC)
        stop_code = policy.migration_stop.get(tag)
        if stop_code is not None:
            self._stop(task, stop_code, REASONS.get(stop_code, stop_code), exit_code=None)
            return
        seconds = policy.migration_runs.get(tag)
        if seconds is None:
            self._stop(task, "EssentialContainerExited", EXITED, policy.migration_exit.get(tag, 0))
            return
        task.last_status, task.desired_status = "RUNNING", "RUNNING"
        task.started_at = datetime.now(UTC)
        for container in task.containers:
            container.last_status, container.exitCode = "RUNNING", None
        with self.lock:
            self.running[task.task_arn] = Running(task, tag, time.monotonic() + seconds)

    def on_stop(self, task: Any, reason: str | None) -> bool:
        """StopTask on a task still running; False when the task is not one of ours."""
        with self.lock:
            entry = self.running.get(task.task_arn)
            if entry is None:
                return False
            if entry.killed_at is None:
                entry.killed_at = time.monotonic() + self.emulator.stop_timeout
                task.desired_status, task.last_status = "STOPPED", "DEACTIVATING"
                task.stop_code = "UserInitiated"
                task.stopped_reason = reason or REASONS["UserInitiated"]
                task.stopping_at = datetime.now(UTC)
            return True

    def tick(self, at: float) -> None:
        with self.lock:
            for arn, entry in list(self.running.items()):
                if entry.killed_at is not None:
                    if at >= entry.killed_at:
                        task = entry.task
                        self._stop(task, "UserInitiated", task.stopped_reason, SIGKILL_EXIT)
                        del self.running[arn]
                    else:
                        entry.task.last_status = "STOPPING"
                elif at >= entry.exits_at and not math.isinf(entry.exits_at):
                    code = self.emulator.policy.migration_exit.get(entry.tag, 0)
                    self._stop(entry.task, "EssentialContainerExited", EXITED, code)
                    del self.running[arn]

    @staticmethod
    def _stop(task: Any, stop_code: str, reason: str, exit_code: int | None) -> None:
        stamp = datetime.now(UTC)
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = exit_code  # None: never started, so the field is absent
            if exit_code is None:
                container.reason = reason
        task.desired_status, task.last_status = "STOPPED", "STOPPED"
        task.stop_code, task.stopped_reason = stop_code, reason
        task.stopped_at = task.execution_stopped_at = stamp
        if exit_code is not None and not getattr(task, "started_at", None):
            task.started_at = stamp
