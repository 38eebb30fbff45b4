"""`autopipe lock status|acquire|release`: look at, take (maintenance window) or give back the
deploy lock. `release` gives back a lock you hold (same `whoami`); `release --force` breaks
anyone's, conditionally on the fencing token it read, so a lock re-taken in between survives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopipe import lock
from autopipe.errors import ConfigError, LockHeld
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws

ACTIONS = ("status", "acquire", "release")


@dataclass(frozen=True)
class LockOptions:
    common: Common = field(default_factory=Common)
    action: str = "status"
    reason: str = "maintenance"
    ttl: int | None = None
    dry_run: bool = False
    force: bool = False
    wait_for_lock: bool = False


def run(opts: LockOptions, reporter: Reporter) -> dict[str, Any]:
    if opts.action not in ACTIONS:
        raise ConfigError(f"lock action must be one of {', '.join(ACTIONS)}")
    settings = opts.common.settings()
    aws = make_aws(settings, dry_run=opts.dry_run or opts.action == "status")
    deploy_lock = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id)
    holder = deploy_lock.status()
    result: dict[str, Any] = {
        "environment": settings.env,
        "lock_id": settings.lock_id,
        "action": opts.action,
        "dry_run": opts.dry_run,
        "held": holder is not None,
        "lock": holder.as_dict() if holder else None,
        "changed": False,
    }
    if opts.action == "status":
        reporter.info(
            f"{settings.lock_id}: " + (f"held by {holder.describe()}" if holder else "free")
        )
    elif opts.action == "release":
        result["changed"] = _release(deploy_lock, holder, opts, reporter)
    elif opts.dry_run:
        reporter.info(f"would take {settings.lock_id}" + (" (held now)" if holder else ""))
    else:
        info = deploy_lock.acquire(
            owner=lock.whoami(),
            reason=opts.reason,
            ttl=opts.ttl or settings.lock_ttl,
            wait=None if opts.wait_for_lock else 0.0,
        )
        took_over = f" (took over from silent {info.previous_owner})" if info.previous_owner else ""
        reporter.step(
            f"took {settings.lock_id}: {info.describe()}{took_over}; "
            "`autopipe lock release` frees it"
        )
        result.update(held=True, lock=info.as_dict(), changed=True)
    return result


def _release(
    deploy_lock: lock.DeployLock,
    holder: lock.LockInfo | None,
    opts: LockOptions,
    reporter: Reporter,
) -> bool:
    name = deploy_lock.lock_id
    if holder is None:
        reporter.info(f"{name}: already free")
        return False
    if not opts.force and holder.owner != lock.whoami():
        raise LockHeld(
            f"{name} is held by {holder.describe()}, not by you ({lock.whoami()}); "
            "`autopipe lock release --force` breaks it",
            details={"lock": holder.as_dict()},
        )
    if opts.dry_run:
        reporter.info(f"would release {name}, held by {holder.describe()}")
        return False
    if not deploy_lock.force_release(holder):
        now = deploy_lock.status()
        raise LockHeld(
            f"{name} changed hands since it was read (token {holder.token}); nothing released; "
            + (f"now held by {now.describe()}" if now else "it is free now"),
            details={"lock": now.as_dict() if now else None},
        )
    reporter.step(f"released {name} (was held by {holder.describe()})")
    return True
