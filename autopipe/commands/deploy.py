"""`autopipe deploy`: lock → verify → register → migrate → update → watch → smoke → record →
unlock → notify, behind one error boundary.

Whatever goes wrong, the deploy ends in a state it can name:
- before UpdateService (lock, verify, register, migrate): nothing the service runs changed; a
  migration task still running is stopped and waited for (commands/../migrate.py);
- after it: the service deployment ECS created is rolled back by ECS (circuit breaker, alarms,
  or StopServiceDeployment on our request) or, where ECS cannot, by a new deployment of the
  last proven release (recovery.py); the release record keeps naming what serves;
- always: the lock is released when it is still ours, exactly one notification says the
  result, and the exit code is the documented one (errors.py).
An interrupt (Ctrl-C, SIGTERM from a cancelled CI job) after UpdateService asks ECS to roll back
and returns without waiting: ECS finishes the rollback on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autopipe import ecs, lock, rollout
from autopipe.aws import Aws
from autopipe.commands._shared import ImageOptions
from autopipe.commands.deploy_dry_run import dry_run
from autopipe.commands.deploy_steps import Steps
from autopipe.config import Settings
from autopipe.errors import (
    AutopipeError,
    Interrupted,
    LockLost,
    RollbackFailed,
    RolledBack,
)
from autopipe.notify import Report, notify, run_link
from autopipe.output import Reporter
from autopipe.recovery import Recovery, Target
from autopipe.runner import Common, as_error, describe_error, make_aws
from autopipe.signals import deferred_signals

# Test seam, like aws.call_hooks: called with each phase's name as a deploy enters it (the
# fault matrix arms its faults there). Not for application logic.
phase_hooks: list[Callable[[str], None]] = []


@dataclass(frozen=True)
class DeployOptions:
    common: Common = field(default_factory=Common)
    image: ImageOptions = field(default_factory=ImageOptions)
    reason: str = "deploy"
    dry_run: bool = False
    migrate: bool = True
    smoke: bool = True
    notify: bool = True
    url: str | None = None
    desired_count: int | None = None
    timeout: float | None = None
    poll_interval: float | None = None
    scan_reports: tuple[str, ...] = ()  # Trivy JSON reports accepted as scan evidence
    allow_alarm: str | None = None  # why a deploy may start with a deployment alarm in ALARM
    wait_for_lock: bool = False  # held: watch it one lease, take it over if its holder is dead
    # Programmatic only (rehearse): variables added to the container's environment.
    extra_environment: dict[str, str] = field(default_factory=dict)


def run(
    opts: DeployOptions, reporter: Reporter, *, settings: Settings | None = None
) -> dict[str, Any]:
    settings = settings or opts.common.settings(
        url=opts.url,
        desired_count=opts.desired_count,
        rollout_timeout=opts.timeout,
        poll_interval=opts.poll_interval,
        allow_alarm=opts.allow_alarm,
    )
    if opts.scan_reports:
        settings = settings.with_overrides(
            scan_reports=(*settings.scan_reports, *opts.scan_reports)
        )
    aws = make_aws(settings, dry_run=opts.dry_run)
    if opts.dry_run:
        return dry_run(aws, settings, opts, reporter)
    return Deployment(aws, settings, opts, reporter).run()


class Deployment:
    def __init__(
        self, aws: Aws, settings: Settings, opts: DeployOptions, reporter: Reporter
    ) -> None:
        self.aws, self.settings, self.opts, self.reporter = aws, settings, opts, reporter
        self.watcher = rollout.Watcher(aws, settings, reporter)
        self.lock = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id)
        self.steps = Steps(self)
        self.recovery = Recovery(aws, settings, reporter, self.watcher)
        self._phase = "start"
        self.touched = False  # UpdateService was sent (its answer may not have arrived)
        self.lost_lock = False
        self.deployment_arn: str | None = None
        self.new_arn: str | None = None
        self.target: Target | None = None
        self.result: dict[str, Any] = {
            "environment": settings.env,
            "cluster": settings.cluster,
            "service": settings.service,
            "image": None,
            "image_tag": opts.image.tag,
            "git_sha": opts.image.sha(),
            "revision": None,
            "previous_revision": None,
            "deployment": None,
            "migration_task": None,
            "smoke_probes": 0,
            "rollback": None,
            "result": "running",
            "reason": "",
            "phase": "start",
            "duration_seconds": 0.0,
            "notified": [],
            "dry_run": False,
            "timeline": reporter.timeline,
        }

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        self._phase = value
        for hook in phase_hooks:
            hook(value)

    # --- the boundary ---------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        error: AutopipeError | None = None
        try:
            error = self._attempt()
        except KeyboardInterrupt as exc:  # in any phase, the way back after a failure included
            with deferred_signals():
                error = self._interrupted(getattr(exc, "state", ""))
        with deferred_signals():
            self.result["phase"] = self.phase
            if not self.lost_lock:  # no write of ours once someone else holds the lock
                self.recovery.restore_alarms()
            self.phase = "unlock"
            self._unlock()
            self.result["duration_seconds"] = round(time.monotonic() - started, 2)
            self.result["result"] = error.kind if error else "success"
            self.result["reason"] = error.message if error else self._override_note()
            self.phase = "notify"
            if self.opts.notify:
                self.result["notified"] = notify(
                    self._report(error), self.reporter, webhook_env=self.settings.slack_webhook_env
                )
        if error is not None:
            error.details = {**self.result, **error.details}
            raise error
        return self.result

    def _attempt(self) -> AutopipeError | None:
        try:
            self.steps.all()
        except LockLost as exc:
            return exc if exc.details.get("settled") else self._lock_lost(exc)
        except (RolledBack, RollbackFailed) as exc:
            return exc
        except Exception as exc:  # an AWS error or a bug, in any phase
            return self._failed(exc)
        return None

    def _failed(self, exc: Exception) -> AutopipeError:
        """Any error: before UpdateService nothing changed; after it, roll back."""
        what = describe_error(exc)
        if not self.touched:
            if isinstance(exc, AutopipeError):
                return exc
            return as_error(exc, f"{self.phase} failed: {what}; the service was not changed")
        self.reporter.step(f"{self.phase} failed: {what}", style="bold red")
        return self.roll_back(f"{self.phase} failed: {what}")

    def roll_back(self, reason: str) -> AutopipeError:
        """After UpdateService: back to the last proven release; RolledBack or RollbackFailed."""
        self.phase = "rollback"
        self.steps.mark_failed(reason)
        try:
            self.steps.ensure()
            result = self.recovery.roll_back(self.deployment_arn, self._target())
        except LockLost as exc:
            return self._lock_lost(exc)
        except RollbackFailed as exc:
            self.result["rollback"] = exc.details.get("rollback")
            return exc
        except Exception as exc:
            what = describe_error(exc)
            self.result["rollback"] = {"to": ecs.short(self._target().taskdef_arn), "state": what}
            return RollbackFailed(
                f"{reason}; the rollback could not be carried out ({what}). ECS goes on with "
                f"deployment {self.deployment_arn or '(unknown)'} (its circuit breaker and "
                "alarms still apply); the release record is unchanged. Run `autopipe status`",
            )
        self.result["rollback"] = result.as_dict()
        self.steps.record(result.to)
        return RolledBack(f"{reason}; rolled back to {ecs.short(result.to)} ({result.by})")

    def _interrupted(self, migration: str = "") -> AutopipeError:
        phase = self.phase
        if not self.touched:
            return Interrupted(
                f"during {phase}: the service was not changed"
                + (f"; {migration}" if migration else "")
                + (f" (registered {self.result['revision']}, unused)" if self.new_arn else "")
                + "; the release record is unchanged. Re-run the deploy when ready"
            )
        if self.recovery.started is not None:
            return Interrupted(
                "during the rollback: ECS carries it on without us; the release record names "
                f"the last proven release. `autopipe wait` shows when {self.settings.service} "
                "is steady"
            )
        try:
            self.steps.mark_failed(f"interrupted during {phase}")
            result = self.recovery.request(self.deployment_arn, self._target())
        except Exception as exc:
            return Interrupted(
                f"during {phase}: could not ask ECS to roll back ({describe_error(exc)}). "
                f"Deployment {self.deployment_arn} of {self.result['revision']} goes on "
                "unproven; run `autopipe rollback` to put back the last proven release"
            )
        self.result["rollback"] = {**result.as_dict(), "state": "requested"}
        return Interrupted(
            f"during {phase}: asked ECS to put back {ecs.short(result.to)} ({result.by}); "
            "ECS completes it without us and the release record already names it. "
            "`autopipe wait` shows when the service is steady"
        )

    def _lock_lost(self, exc: LockLost) -> AutopipeError:
        self.lost_lock = True
        state = (
            f"deployment {self.deployment_arn} of {self.result['revision']} was left to ECS "
            "(its circuit breaker and alarms still apply) and to whoever holds the lock now"
            if self.touched
            else "the service was not changed"
        )
        return LockLost(
            f"{exc.message} (during {self.phase}); {state}",
            details={"settled": True},
        )

    def _target(self) -> Target:
        if self.target is None:
            raise RollbackFailed("no proven release to roll back to")
        return self.target

    def _unlock(self) -> None:
        if self.lock.held is None:
            return
        try:
            released = self.watcher.persist.call("unlock", self.lock.release, within=30)
        except Exception as exc:
            self.reporter.warn(
                f"could not release the lock ({describe_error(exc)}); it lapses when its lease "
                "runs out, or `autopipe lock release --force`"
            )
            return
        self.reporter.step("lock released" if released else "lock was no longer ours")

    def _override_note(self) -> str:
        if not self.settings.allow_alarm:
            return ""
        return (
            f"deployed while a deployment alarm was in ALARM, allowed: {self.settings.allow_alarm}"
        )

    def _report(self, error: AutopipeError | None) -> Report:
        s = self.settings
        return Report(
            result=self.result["result"],
            environment=s.env,
            service=s.service,
            cluster=s.cluster,
            image=self.result["image"] or "",
            commit=self.result["git_sha"],
            actor=lock.whoami(),
            duration=self.result["duration_seconds"],
            reason=self.result["reason"],
            link=run_link(),
            revision=self.result["revision"] or "",
            previous_revision=self.result["previous_revision"] or "",
            exit_code=error.exit_code if error else 0,
        )
