"""The fault matrix: every deploy phase x every fault, and what each cell must end in.

A cell deploys v2 over a proven v1 (deployed and recorded first) with one fault armed the
moment the deploy enters the phase (autopipe.commands.deploy.phase_hooks). Cells in the
`rollback` phase also make v2 fail its smoke test, so there is a rollback to disturb. The
expectations are written here from the deployer's documented contract (docs/deployer.md), not
read from the code under test.

What every cell checks (tests/deploy/test_fault_matrix.py):
- the exit code is the documented one for that outcome;
- the service ends on the expected revision once ECS is done (v1: the proven release; v2: the
  new one, proven; "v2 (unproven)" only where the lock was lost and a new holder owns it);
- the release record names what the contract says;
- the lock is not left held by us;
- exactly one notification was delivered, with that result.
"""

from __future__ import annotations

from dataclasses import dataclass

PHASES = (
    "lock", "verify", "register", "migrate", "update", "watch", "smoke", "rollback", "unlock",
    "notify",
)  # fmt: skip
FAULTS = (
    "throttling", "expired_credentials", "stale_read", "connection_error", "circuit_breaker",
    "alarm", "smoke_failure", "ctrl_c", "sigterm", "lock_lost",
)  # fmt: skip
TRANSIENT = ("throttling", "expired_credentials", "stale_read", "connection_error")
BEFORE_UPDATE = ("lock", "verify", "register", "migrate", "update")
ROLLOUT = ("watch", "smoke")
AFTER = ("unlock", "notify")

# Exit codes, as docs/deployer.md's table gives them (not imported from autopipe.errors).
OK, VERIFY_FAILED, LOCK_HELD, ROLLED_BACK, ROLLBACK_FAILED, LOCK_LOST, INTERRUPTED = (
    0, 3, 4, 6, 7, 10, 130,
)  # fmt: skip


@dataclass(frozen=True)
class Expect:
    exit_code: int
    result: str  # the notification's result (the error kind, or success)
    serves: str  # v1 | v2
    record: str  # v1 | v2
    why: str = ""


def success(why: str = "") -> Expect:
    return Expect(OK, "success", "v2", "v2", why)


def rolled_back(why: str) -> Expect:
    return Expect(ROLLED_BACK, "rolled_back", "v1", "v1", why)


def expect(phase: str, fault: str) -> Expect | None:  # noqa: PLR0911, PLR0912 - one table
    """None: the fault cannot happen in that phase (the reason is in `not_applicable`)."""
    if fault in TRANSIENT:
        if phase == "rollback":
            return rolled_back("smoke failed; the rollback gets through the fault")
        return success("the fault is absorbed by retries; nothing else changes")
    if fault == "circuit_breaker":
        if phase in (*BEFORE_UPDATE, "watch"):
            return rolled_back("ECS's circuit breaker fails v2 and ECS rolls back")
        if phase == "rollback":
            return Expect(
                ROLLBACK_FAILED, "rollback_failed", "v2", "v1",
                "v1's tasks fail to start again: ECS puts v2 back; a human is needed",
            )  # fmt: skip
        return None
    if fault == "alarm":
        if phase in ("lock", "verify"):
            return Expect(VERIFY_FAILED, "verify_failed", "v1", "v1", "verify: alarm in ALARM")
        if phase in (*BEFORE_UPDATE, "watch"):
            return rolled_back("ECS's alarm-based rollback")
        if phase in ("smoke", "rollback"):
            return rolled_back("autopipe rolls back with ECS's alarm rollback suspended")
        return success("the deploy was already proven and recorded")
    if fault == "smoke_failure":
        if phase in (*BEFORE_UPDATE, *ROLLOUT):
            return rolled_back("the smoke test fails: UpdateService to the proven v1")
        return None
    if fault in ("ctrl_c", "sigterm"):
        if phase in BEFORE_UPDATE:
            return Expect(INTERRUPTED, "interrupted", "v1", "v1", "stopped before UpdateService")
        if phase in (*ROLLOUT, "rollback"):
            return Expect(INTERRUPTED, "interrupted", "v1", "v1", "ECS asked to roll back")
        return success("the signal is held off while unlock and notify finish")
    if fault == "lock_lost":
        if phase == "lock":
            return Expect(LOCK_HELD, "lock_held", "v1", "v1", "another deploy holds the lock")
        if phase in BEFORE_UPDATE:
            return Expect(LOCK_LOST, "lock_lost", "v1", "v1", "stopped before the next write")
        if phase in ROLLOUT:
            return Expect(
                LOCK_LOST, "lock_lost", "v2", "v1",
                "no write after the loss: v2 is left to ECS and the new holder",
            )  # fmt: skip
        if phase == "rollback":
            return Expect(
                LOCK_LOST, "lock_lost", "v2", "v1",
                "no rollback write after the loss: the new holder owns the service",
            )  # fmt: skip
        return success("the deploy was recorded before the loss; release finds it not ours")
    raise ValueError(fault)


def not_applicable(phase: str, fault: str) -> str:
    if fault == "circuit_breaker":
        return "no deployment runs in this phase"
    if fault == "smoke_failure":
        return "the smoke test does not run in or after this phase"
    return ""


CELLS = [(p, f) for p in PHASES for f in FAULTS]
