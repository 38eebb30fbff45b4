"""`autopipe rollback [--to REVISION]`: put the service back on a proven release, under the
deploy lock, with ECS as the controller (recovery.py), and wait for it.

The default target is never guessed from revision numbers:
- while the service's current deployment is unproven (PENDING / IN_PROGRESS, or its revision is
  not the one the release record names), the record's revision — the last proven release;
- when the service already runs the recorded release, the release proven before it: the newest
  earlier value in the SSM parameter's own history (`GetParameterHistory`) that is not tagged
  `autopipe:failed`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from autopipe import ecs, lock, release, rollout
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.errors import AutopipeError, ConfigError, Interrupted
from autopipe.notify import Report, notify, run_link
from autopipe.output import Reporter
from autopipe.recovery import Recovery, Target
from autopipe.runner import Common, as_error, make_aws
from autopipe.signals import deferred_signals


@dataclass(frozen=True)
class RollbackOptions:
    common: Common = field(default_factory=Common)
    to: str | None = None
    reason: str = "rollback"
    dry_run: bool = False
    wait: bool = True
    notify: bool = True


def default_target(aws: Aws, settings: Settings, service: dict[str, Any]) -> Target:
    current = str(service["taskDefinition"])
    recorded = release.read(aws, settings)
    deployment = None
    if service.get("currentServiceDeployment"):
        deployment = ecs.describe_deployment(aws, str(service["currentServiceDeployment"]))
    unproven = (deployment or {}).get("status") in rollout.STOPPABLE
    if recorded and recorded.taskdef_arn:
        if unproven or ecs.short(recorded.taskdef_arn) != ecs.short(current):
            return Target(recorded.taskdef_arn, "the release record: the last proven release")
        earlier = _earlier_proven(aws, settings, recorded.taskdef_arn)
        if earlier:
            return Target(earlier, "the release proven before the current one (SSM history)")
        raise ConfigError(
            f"{settings.service} runs the only proven release ({ecs.short(current)}); no "
            "earlier one is recorded. Give --to REVISION"
        )
    raise ConfigError(
        f"no proven release is recorded in {settings.release_prefix}/taskdef; give --to REVISION"
    )


def _earlier_proven(aws: Aws, settings: Settings, current: str) -> str | None:
    name = release.parameter_names(settings.release_prefix)[release.TASKDEF]
    values: list[str] = []
    for page in aws.ssm().get_paginator("get_parameter_history").paginate(Name=name):
        values.extend(str(p["Value"]) for p in page.get("Parameters", []))
    for value in reversed(values):  # history is oldest first
        if ecs.short(value) != ecs.short(current) and not ecs.is_marked_failed(aws, value):
            return value
    return None


def _in_progress(aws: Aws, arn: str | None) -> bool:
    found = ecs.describe_deployment(aws, arn) if arn else None
    return (found or {}).get("status") in rollout.STOPPABLE


def run(opts: RollbackOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    aws = make_aws(settings, dry_run=opts.dry_run)
    started = time.monotonic()
    service = ecs.describe_service(aws, settings)
    current = str(service["taskDefinition"])
    if opts.to:
        target = Target(ecs.revision_arn(aws, settings, opts.to), "--to")
    else:
        target = default_target(aws, settings, service)
    arn = str(service.get("currentServiceDeployment") or "") or None
    result: dict[str, Any] = {
        "environment": settings.env,
        "service": settings.service,
        "from": ecs.short(current),
        "to": ecs.short(target.taskdef_arn),
        "target_source": target.source,
        "dry_run": opts.dry_run,
        "changed": False,
        "by": None,
    }
    if ecs.short(current) == ecs.short(target.taskdef_arn) and not _in_progress(aws, arn):
        reporter.step(f"{settings.service} already runs {result['to']}: nothing to do")
        return result
    if opts.dry_run:
        reporter.step(
            f"would roll {settings.service} back from {result['from']} to {result['to']} "
            f"({target.source})"
        )
        return result
    deploy_lock = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id)
    error: AutopipeError | None = None
    watcher = rollout.Watcher(aws, settings, reporter)
    recovery = Recovery(aws, settings, reporter, watcher)
    try:
        info = deploy_lock.acquire(owner=lock.whoami(), reason=opts.reason, ttl=settings.lock_lease)
        reporter.step(f"lock taken: {info.lock_id} by {info.owner}")
        with deploy_lock.keep_alive():
            deploy_lock.ensure()
            if opts.wait:
                done = recovery.roll_back(arn, target)
                deploy_lock.ensure()
                release.record(aws, settings, reporter, done.to, persist=watcher.persist)
            else:
                done = recovery.request(arn, target)
                reporter.warn(
                    f"not waiting: the release record ({settings.release_prefix}/*) was not "
                    "updated; `autopipe wait` shows when the rollback is done"
                )
        result.update(by=done.by, deployment=done.deployment_arn, changed=True)
    except KeyboardInterrupt:
        error = Interrupted(
            "during the rollback: ECS carries it on without us; `autopipe wait` shows when "
            "it is done"
        )
    except Exception as exc:
        error = as_error(exc)
    with deferred_signals():
        if deploy_lock.held is not None:
            try:
                deploy_lock.release()
                reporter.step("lock released")
            except Exception as exc:
                reporter.warn(f"could not release the lock ({type(exc).__name__})")
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
