"""`autopipe deploy`: lock → verify → register → migrate → update → watch → smoke → unlock →
notify. A failed rollout (circuit breaker, alarm, smoke test, timeout) is rolled back to the
revision the service ran before, and the exit code says so."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autopipe import ecs, lock, release, rollout, smoke
from autopipe.aws import Aws
from autopipe.commands._shared import ImageOptions, Rendered, render_new
from autopipe.commands.diff import unified
from autopipe.commands.verify import verify
from autopipe.config import Settings
from autopipe.errors import AutopipeError, Interrupted, RolledBack
from autopipe.migrate import run_migration
from autopipe.notify import Report, notify, run_link
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


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
    )
    aws = make_aws(settings, dry_run=opts.dry_run)
    if opts.dry_run:
        return _dry_run(aws, settings, opts, reporter)
    return Deployment(aws, settings, opts, reporter).run()


class Deployment:
    def __init__(
        self, aws: Aws, settings: Settings, opts: DeployOptions, reporter: Reporter
    ) -> None:
        self.aws, self.settings, self.opts, self.reporter = aws, settings, opts, reporter
        self.phase = "start"
        self.watcher = rollout.Watcher(aws, settings, reporter)
        self.result: dict[str, Any] = {
            "environment": settings.env,
            "cluster": settings.cluster,
            "service": settings.service,
            "image": None,
            "image_tag": opts.image.tag,
            "git_sha": opts.image.sha(),
            "revision": None,
            "previous_revision": None,
            "migration_task": None,
            "smoke_probes": 0,
            "rollback": None,
            "result": "running",
            "reason": "",
            "duration_seconds": 0.0,
            "notified": [],
            "dry_run": False,
            "timeline": reporter.timeline,
        }

    def run(self) -> dict[str, Any]:
        s, started = self.settings, time.monotonic()
        deploy_lock = lock.DeployLock(self.aws, table=s.lock_table, lock_id=s.lock_id)
        error: AutopipeError | None = None
        try:
            self._locked(deploy_lock)
        except KeyboardInterrupt:
            error = Interrupted(self._interrupted_state(), details=self.result)
        except AutopipeError as exc:
            error = exc
        finally:
            if deploy_lock.held is not None:
                released = deploy_lock.release()
                self.reporter.step("lock released" if released else "lock was no longer ours")
        self.result["duration_seconds"] = round(time.monotonic() - started, 2)
        self.result["result"] = error.kind if error else "success"
        self.result["reason"] = error.message if error else ""
        if self.opts.notify:
            self.result["notified"] = notify(
                self._report(error), self.reporter, webhook_env=s.slack_webhook_env
            )
        if error is not None:
            error.details = {**self.result, **error.details}
            raise error
        return self.result

    def _locked(self, deploy_lock: lock.DeployLock) -> None:
        s, r = self.settings, self.reporter
        self.phase = "lock"
        info = deploy_lock.acquire(owner=lock.whoami(), reason=self.opts.reason, ttl=s.lock_ttl)
        r.step(f"lock taken: {info.lock_id} by {info.owner}")
        self.phase = "verify"
        rendered = render_new(
            self.aws, s, self.opts.image, extra_environment=self.opts.extra_environment
        )
        self.result.update(
            image=rendered.image.uri if rendered.image else None, image_tag=rendered.image_tag
        )
        verify(self.aws, s, rendered, r)
        service = ecs.describe_service(self.aws, s)
        previous = str(service["taskDefinition"])
        self.result["previous_revision"] = ecs.short(previous)
        self.phase = "register"
        new_arn = ecs.register(self.aws, rendered.taskdef)
        self.result["revision"] = ecs.short(new_arn)
        r.step(f"registered {ecs.short(new_arn)} (was {ecs.short(previous)})")
        if self.opts.migrate:
            self.phase = "migrate"
            network = dict(service.get("networkConfiguration") or {})
            self.result["migration_task"] = run_migration(self.aws, s, r, new_arn, network=network)
        self.phase = "rollout"
        since = datetime.now(UTC)
        ecs.update_service(self.aws, s, new_arn, desired_count=s.desired_count)
        r.step(f"service updated to {ecs.short(new_arn)}; watching every {s.poll_interval:g}s")
        outcome = self.watcher.watch(
            new_arn, timeout=s.rollout_timeout, alarms=s.alarms, since=since
        )
        if outcome.ok:
            outcome = self._smoke(rendered, outcome)
        if not outcome.ok:
            self.phase = "rollback"
            r.step(f"rollout failed ({outcome.state}): {outcome.reason}", style="bold red")
            by = rollout.roll_back_to(self.watcher, self.aws, s, r, previous)
            self.result["rollback"] = {"to": ecs.short(previous), "by": by, "state": "completed"}
            release.record(self.aws, s, r, previous)
            raise RolledBack(
                f"{outcome.state}: {outcome.reason}; rolled back to {ecs.short(previous)}"
            )
        self.phase = "done"
        r.step(f"deployed {ecs.short(new_arn)} ({rendered.image_tag})", style="bold green")
        release.record(self.aws, s, r, new_arn)

    def _smoke(self, rendered: Rendered, outcome: rollout.Outcome) -> rollout.Outcome:
        s = self.settings
        if not (self.opts.smoke and s.url):
            self.reporter.step(
                "smoke test skipped (no url configured)"
                if self.opts.smoke
                else "smoke test skipped (--no-smoke)"
            )
            return outcome
        self.phase = "smoke"
        expect = {"image_tag": rendered.image_tag}
        if rendered.git_sha != "unknown":
            expect["git_sha"] = rendered.git_sha
        try:
            self.result["smoke_probes"] = smoke.smoke_test(
                s.url,
                expect=expect,
                passes=s.smoke_passes,
                interval=s.smoke_interval,
                timeout=s.smoke_timeout,
                reporter=self.reporter,
            )
        except smoke.SmokeFailed as exc:
            self.result["smoke_probes"] = exc.probes
            return rollout.Outcome(
                "smoke_failed", f"smoke test failed: {exc}", outcome.service_taskdef
            )
        return outcome

    def _interrupted_state(self) -> str:
        before = {"start", "lock", "verify", "register", "migrate"}
        if self.phase in before:
            return f"during {self.phase}: the service was not changed; re-running deploy is safe"
        if self.phase == "rollback":
            return (
                f"during the rollback to {self.result['previous_revision']}: ECS carries on "
                "without us. Check it with `autopipe wait`; `autopipe rollback` repeats it"
            )
        return (
            f"during {self.phase}: the service is moving to {self.result['revision']}; ECS "
            "carries on without us. Check it with `autopipe wait` or `autopipe rollback`"
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


def _dry_run(
    aws: Aws, settings: Settings, opts: DeployOptions, reporter: Reporter
) -> dict[str, Any]:
    """Everything a deploy reads, nothing it writes (the AWS factory refuses writes)."""
    step = reporter.step
    holder = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id).status()
    step(f"lock: {'held by ' + holder.describe() if holder else 'free'}")
    rendered = render_new(aws, settings, opts.image, extra_environment=opts.extra_environment)
    verify(aws, settings, rendered, reporter)
    service = ecs.describe_service(aws, settings)
    live = ecs.describe_taskdef(aws, str(service["taskDefinition"]))
    text = unified(live, rendered.taskdef, ecs.short(str(live["taskDefinitionArn"])))
    if text:
        reporter.diff(text)
    image = rendered.image.uri if rendered.image else ""
    step(f"would register a new revision of {settings.family} with {image}")
    if opts.migrate:
        step(f"would run the migration task: {' '.join(settings.migration_command)}")
    step(f"would update {settings.service} and watch it every {settings.poll_interval:g}s")
    if opts.smoke and settings.url:
        step(f"would smoke-test {settings.url} expecting image_tag={rendered.image_tag}")
    step(f"would record the release in {settings.release_prefix}/{{image,image-tag,git-sha}}")
    step("dry run: nothing was changed", style="bold")
    return {
        "environment": settings.env,
        "cluster": settings.cluster,
        "service": settings.service,
        "image": image,
        "image_tag": rendered.image_tag,
        "git_sha": rendered.git_sha,
        "revision": None,
        "previous_revision": ecs.short(str(service["taskDefinition"])),
        "lock": holder.as_dict() if holder else None,
        "changed": bool(text),
        "diff": text,
        "dry_run": True,
        "result": "dry_run",
        "timeline": reporter.timeline,
    }
