"""One exception tree, mapped to exit codes in one place.

    AutopipeError                 1  unexpected failure (AWS API error, bug)
    ├── ConfigError               2  bad input, config or template (nothing changed)
    ├── VerifyFailed              3  a check said NG (nothing changed)
    ├── LockHeld                  4  another deploy holds the lock (nothing changed)
    ├── MigrationFailed           5  the migration task failed; the service was not touched
    ├── RolledBack                6  the rollout failed; the previous revision is back and stable
    ├── RollbackFailed            7  the rollback did not stabilise: a human is needed
    ├── NotStable                 8  `wait`: the service did not reach a steady state in time
    ├── Differences               9  `diff --exit-code`: rendered and live differ
    ├── LockLost                 10  the deploy lock was lost; stopped before the next write
    ├── DryRunViolation           1  a write call was attempted under --dry-run (a bug)
    └── Interrupted             130  Ctrl-C / SIGTERM; the state left behind is reported

Typer's own usage errors (unknown option, missing argument) also exit 2.
"""

from __future__ import annotations

from typing import Any, ClassVar

OK = 0


class AutopipeError(Exception):
    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Partial results (revision, previous revision, reason...) for --output json.
        self.details: dict[str, Any] = dict(details or {})


class ConfigError(AutopipeError):
    exit_code = 2
    kind = "config_error"


class VerifyFailed(AutopipeError):
    exit_code = 3
    kind = "verify_failed"


class LockHeld(AutopipeError):
    exit_code = 4
    kind = "lock_held"


class MigrationFailed(AutopipeError):
    exit_code = 5
    kind = "migration_failed"


class RolledBack(AutopipeError):
    exit_code = 6
    kind = "rolled_back"


class RollbackFailed(AutopipeError):
    exit_code = 7
    kind = "rollback_failed"


class NotStable(AutopipeError):
    exit_code = 8
    kind = "not_stable"


class Differences(AutopipeError):
    exit_code = 9
    kind = "differences"


class LockLost(AutopipeError):
    exit_code = 10
    kind = "lock_lost"


class DryRunViolation(AutopipeError):
    exit_code = 1
    kind = "dry_run_violation"


class Interrupted(AutopipeError):
    exit_code = 130
    kind = "interrupted"


# Documentation and `--output json` consumers read this table; the docs test checks it.
EXIT_CODES: dict[int, str] = {
    OK: "success",
    AutopipeError.exit_code: "unexpected error (AWS API error, bug); see the message",
    ConfigError.exit_code: "bad input or configuration; nothing changed",
    VerifyFailed.exit_code: "verify failed (a check said NG); nothing changed",
    LockHeld.exit_code: "another deploy holds the lock; nothing changed",
    MigrationFailed.exit_code: "migration task failed; the service was not touched",
    RolledBack.exit_code: "deploy failed and was rolled back; previous revision stable",
    RollbackFailed.exit_code: "rollback failed or did not stabilise; needs a human",
    NotStable.exit_code: "wait: no steady state before the timeout",
    Differences.exit_code: "diff --exit-code: rendered and live task definitions differ",
    LockLost.exit_code: "the deploy lock was lost (taken over or force-released); stopped before "
    "the next write",
    Interrupted.exit_code: "interrupted (Ctrl-C / SIGTERM); re-running is safe",
}
