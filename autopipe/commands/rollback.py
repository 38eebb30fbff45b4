"""`autopipe rollback [--to REVISION]`: put the service back on an earlier revision (by default
the newest ACTIVE one older than what runs now), under the deploy lock, and wait for it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from autopipe import ecs, lock, release, rollout
from autopipe.errors import AutopipeError, ConfigError
from autopipe.notify import Report, notify, run_link
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


@dataclass(frozen=True)
class RollbackOptions:
    common: Common = field(default_factory=Common)
    to: str | None = None
    reason: str = "rollback"
    dry_run: bool = False
    wait: bool = True
    notify: bool = True


def run(opts: RollbackOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    aws = make_aws(settings, dry_run=opts.dry_run)
    started = time.monotonic()
    current = str(ecs.describe_service(aws, settings)["taskDefinition"])
    if opts.to:
        target = ecs.revision_arn(aws, settings, opts.to)
    else:
        found = ecs.previous_revision(aws, settings, current)
        if found is None:
            raise ConfigError(
                f"no ACTIVE revision of {settings.family} older than {ecs.short(current)}"
            )
        target = found
    result: dict[str, Any] = {
        "environment": settings.env,
        "service": settings.service,
        "from": ecs.short(current),
        "to": ecs.short(target),
        "dry_run": opts.dry_run,
        "changed": False,
        "by": None,
    }
    if rollout.same_revision(current, target):
        reporter.step(f"{settings.service} already runs {ecs.short(target)}: nothing to do")
        return result
    if opts.dry_run:
        reporter.step(
            f"would roll {settings.service} back from {ecs.short(current)} to {ecs.short(target)}"
        )
        return result
    deploy_lock = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id)
    error: AutopipeError | None = None
    try:
        info = deploy_lock.acquire(owner=lock.whoami(), reason=opts.reason, ttl=settings.lock_ttl)
        reporter.step(f"lock taken: {info.lock_id} by {info.owner}")
        if opts.wait:
            watcher = rollout.Watcher(aws, settings, reporter)
            result["by"] = rollout.roll_back_to(watcher, aws, settings, reporter, target)
            release.record(aws, settings, reporter, target)
        else:
            ecs.update_service(aws, settings, target)
            result["by"] = "autopipe"
            reporter.step(f"service updated to {ecs.short(target)} (not waiting)")
            reporter.warn(
                f"the release record ({settings.release_prefix}/*) was not updated: the "
                "rollback was not waited for, and it still names the revision rolled back "
                "from; an infrastructure deploy before the next deploy (or a rollback that "
                "waits) would register that image again"
            )
        result["changed"] = True
    except AutopipeError as exc:
        error = exc
    finally:
        if deploy_lock.held is not None:
            deploy_lock.release()
            reporter.step("lock released")
    if opts.notify:
        report = Report(
            result=error.kind if error else "success",
            environment=settings.env,
            service=settings.service,
            cluster=settings.cluster,
            actor=lock.whoami(),
            duration=time.monotonic() - started,
            reason=error.message if error else f"rollback {result['from']} → {result['to']}",
            link=run_link(),
            revision=result["to"],
            previous_revision=result["from"],
            exit_code=error.exit_code if error else 0,
        )
        notify(report, reporter, webhook_env=settings.slack_webhook_env)
    if error is not None:
        error.details = {**result, **error.details}
        raise error
    return result
