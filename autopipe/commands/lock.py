"""`autopipe lock status|acquire|release`: look at, take (maintenance window) or break the
deploy lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopipe import lock
from autopipe.errors import ConfigError
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
        if holder is None:
            reporter.info(f"{settings.lock_id}: already free")
        elif opts.dry_run:
            reporter.info(f"would release {settings.lock_id}, held by {holder.describe()}")
        else:
            deploy_lock.force_release()
            reporter.step(f"released {settings.lock_id} (was held by {holder.describe()})")
            result["changed"] = True
    elif opts.dry_run:
        reporter.info(f"would take {settings.lock_id}" + (" (held now)" if holder else ""))
    else:
        info = deploy_lock.acquire(
            owner=lock.whoami(), reason=opts.reason, ttl=opts.ttl or settings.lock_ttl
        )
        reporter.step(
            f"took {settings.lock_id}: {info.describe()}; `autopipe lock release` frees it"
        )
        result.update(held=True, lock=info.as_dict(), changed=True)
    return result
