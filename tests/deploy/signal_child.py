"""`python -m tests.deploy.signal_child PHASE SIGNAL autopipe-args…`: the real console script in
its own process, with a real SIGINT or SIGTERM sent to its main thread the moment the deploy
enters PHASE (mid-migration: once the one-off task runs, as a person's Ctrl-C would come).

The fault matrix's ctrl_c and sigterm cells run here, not in the test process: an asynchronous
KeyboardInterrupt lands wherever the main thread happens to be, and in pytest's process that
can be pytest's own code, a lock or a pooled client half-way through, which then fails or
hangs a later test. A real interrupted deploy is a process that exits; so is this one."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

from autopipe.aws import Aws
from autopipe.cli import main
from autopipe.commands import deploy as deploy_command
from autopipe.config import load_settings
from testbed.waiting import wait_for

SIGNALS = {"ctrl_c": signal.SIGINT, "sigterm": signal.SIGTERM}
MIGRATION_RUNS_WITHIN = 60.0  # seconds: generous on a loaded machine; the task starts in < 1 s


def migration_running() -> Callable[[], bool]:
    """A poll for the one-off migration task being RUNNING (settings and client made once)."""
    settings = load_settings()
    ecs = Aws(region=settings.region).ecs()

    def poll() -> bool:
        arns = ecs.list_tasks(
            cluster=settings.cluster, startedBy="autopipe-migrate", desiredStatus="RUNNING"
        )["taskArns"]
        if not arns:
            return False
        tasks = ecs.describe_tasks(cluster=settings.cluster, tasks=arns)["tasks"]
        return any(t.get("lastStatus") == "RUNNING" for t in tasks)

    return poll


def arm(phase: str, signum: int) -> None:
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    fired = threading.Event()

    def when_running() -> None:
        try:
            wait_for(migration_running(), "the migration task to run", MIGRATION_RUNS_WITHIN)
        except TimeoutError as exc:
            sys.stderr.write(f"signal_child: {exc}\n")
            sys.stderr.flush()
            os._exit(99)  # the cell then fails on the exit code, with this line beside it
        signal.pthread_kill(main_thread, signum)

    def hook(entered: str) -> None:
        if entered != phase or fired.is_set():
            return
        fired.set()
        if phase == "migrate":
            threading.Thread(target=when_running, daemon=True).start()
        else:
            signal.raise_signal(signum)  # the handler runs before this returns

    deploy_command.phase_hooks.append(hook)


if __name__ == "__main__":
    phase, fault, *args = sys.argv[1:]
    arm(phase, SIGNALS[fault])
    sys.argv = ["autopipe", *args]
    main()
