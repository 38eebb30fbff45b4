"""The deploy's steps in order, as they run when nothing goes wrong; deploy.py holds the error
boundary around them. Every write is preceded by `lock.ensure()`, so a deploy whose lock was
taken over stops before its next write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopipe import ecs, lock, release, rollout, smoke, strategy
from autopipe.commands._shared import Rendered, render_new
from autopipe.commands.deploy_shift import ShiftRollout
from autopipe.commands.verify import verify
from autopipe.errors import AutopipeError, RollbackFailed, RolledBack
from autopipe.migrate import run_migration
from autopipe.recovery import Target

if TYPE_CHECKING:
    from autopipe.commands.deploy import Deployment


# How long a step keeps trying through throttling, dropped connections and expired
# credentials before the error counts (persist.py).
PATIENCE = 60.0


class Steps:
    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment

    def all(self) -> None:
        d = self.d
        d.phase = "lock"
        wait = None if d.opts.wait_for_lock else 0.0
        info = d.watcher.persist.call(
            "lock",
            lambda: d.lock.acquire(
                owner=lock.whoami(), reason=d.opts.reason, ttl=d.settings.lock_lease, wait=wait
            ),
            within=PATIENCE,
        )
        d.reporter.step(f"lock taken: {info.lock_id} by {info.owner}")
        with d.lock.keep_alive():
            self._locked()

    def _locked(self) -> None:
        d, s, r = self.d, self.d.settings, self.d.reporter
        d.phase = "verify"
        rendered = d.watcher.persist.call(
            "verify: render",
            lambda: render_new(d.aws, s, d.opts.image, extra_environment=d.opts.extra_environment),
            within=PATIENCE,
        )
        d.result.update(
            image=rendered.image.uri if rendered.image else None, image_tag=rendered.image_tag
        )
        d.watcher.persist.call("verify", lambda: verify(d.aws, s, rendered, r), within=PATIENCE)
        service = d.watcher.persist.call(
            "verify: DescribeServices", lambda: ecs.describe_service(d.aws, s), within=PATIENCE
        )
        d.result["previous_revision"] = ecs.short(str(service["taskDefinition"]))
        d.target = self._proven(service)
        r.step(f"rollback target: {ecs.short(d.target.taskdef_arn)} ({d.target.source})")

        d.phase = "register"
        self.ensure()
        d.new_arn = d.watcher.persist.call(
            "register", lambda: ecs.register(d.aws, rendered.taskdef), within=PATIENCE
        )
        d.result["revision"] = ecs.short(d.new_arn)
        r.step(f"registered {ecs.short(d.new_arn)} (was {d.result['previous_revision']})")
        if d.opts.migrate:
            d.phase = "migrate"
            self.ensure()
            network = dict(service.get("networkConfiguration") or {})
            d.result["migration_task"] = run_migration(
                d.aws, s, r, d.new_arn, network=network, started=self._migration_started
            )

        self._roll_out(rendered, service)

    def _roll_out(self, rendered: Rendered, service: dict[str, Any]) -> None:
        d, s, r = self.d, self.d.settings, self.d.reporter
        new_arn = str(d.new_arn)
        d.phase = "update"
        self.ensure()
        d.watcher.skip_old_events()
        shift = self._shift(service)
        header = shift.test_route() if shift is not None else {}
        since = datetime.now(UTC) - timedelta(seconds=5)
        d.touched = True
        # Retrying is safe: an UpdateService to the revision the service already targets starts
        # no second deployment, and its answer names the one that runs.
        # A deploy allowed to start with an alarm in ALARM (a hotfix for what it alarms on) runs
        # with ECS's alarm rollback off, or ECS would fail it at its first alarm read.
        config = d.recovery.suspend_alarms(service) if s.allow_alarm else None
        if config is not None:
            r.step(f"alarm-based rollback off for this deployment ({s.allow_alarm})")
        if shift is not None:
            config = shift.configuration(service, config)
        updated = d.watcher.persist.call(
            "update",
            lambda: ecs.update_service(
                d.aws, s, new_arn, desired_count=s.desired_count, deployment_configuration=config
            ),
            within=PATIENCE,
        )
        d.deployment_arn = str(updated.get("currentServiceDeployment") or "") or self._find(since)
        d.result["deployment"] = d.deployment_arn
        r.step(
            f"service updated to {ecs.short(new_arn)}: deployment "
            f"{rollout.short_id(d.deployment_arn)}; watching every {s.poll_interval:g}s"
        )

        d.phase = "watch"
        if shift is not None:
            shift.watch(rendered, self._own_alarms(service), header)
            self._proven_now(rendered, service, smoked=shift.smoked)
            return
        outcome = d.watcher.watch(
            d.deployment_arn, timeout=s.rollout_timeout, alarms=self._own_alarms(service)
        )
        self.judge(outcome)
        self._proven_now(rendered, service)

    def judge(self, outcome: rollout.Outcome) -> None:
        """A watch's final word: returns when the deployment is SUCCESSFUL, else raises what
        the deploy ends with (ECS rolled back, ECS's rollback failed, or ours to roll back)."""
        d, r = self.d, self.d.reporter
        if outcome.state == rollout.ECS_ROLLED_BACK:
            raise self._ecs_rolled_back(outcome)
        if outcome.state == rollout.ROLLBACK_FAILED:
            d.phase = "rollback"
            self.mark_failed(outcome.reason)
            raise RollbackFailed(
                f"ECS failed the deployment ({outcome.reason}) and its own rollback failed: the "
                "service needs a human; `autopipe status` shows where it is"
            )
        if not outcome.ok:
            r.step(f"rollout failed ({outcome.state}): {outcome.reason}", style="bold red")
            raise d.roll_back(f"{outcome.state}: {outcome.reason}")

    def _proven_now(
        self, rendered: Rendered, service: dict[str, Any], *, smoked: bool = False
    ) -> None:
        """The deployment is SUCCESSFUL: the smoke test (unless it passed during the bake) and
        the alarms, then the release record."""
        d, s, r = self.d, self.d.settings, self.d.reporter
        failed = "" if smoked else self._smoke(rendered)
        failed = failed or ("" if s.allow_alarm else self._alarm_after(service))
        if failed:
            r.step(f"rollout failed (smoke_failed): {failed}", style="bold red")
            raise d.roll_back(f"smoke_failed: {failed}")

        d.phase = "record"
        new_arn = str(d.new_arn)
        r.step(f"deployed {ecs.short(new_arn)} ({rendered.image_tag})", style="bold green")
        self.record(new_arn)
        d.phase = "done"

    # --- pieces ---------------------------------------------------------------------------

    def _shift(self, service: dict[str, Any]) -> ShiftRollout | None:
        """The blue/green, canary or linear roll-out, when configured and the service has the
        load balancer resources for it; else the rolling update, said loudly."""
        d, s = self.d, self.d.settings
        if not s.shifts_traffic:
            return None
        if strategy.ready(service):
            return ShiftRollout(self)
        d.reporter.warn(
            f"strategy {s.strategy} is configured, but the service has no alternate target group "
            "and test listener rule yet (the stack's loadBalancers advancedConfiguration): this "
            "deploy is a rolling update"
        )
        return None

    def _proven(self, service: dict[str, Any]) -> Target:
        """The last proven release, from the release record; before the first recorded deploy,
        the revision the service runs now (it is what ECS would roll back to as well)."""
        d = self.d
        recorded = d.watcher.persist.call(
            "verify: read the release record", lambda: release.read(d.aws, d.settings), within=30
        )
        if recorded is not None and recorded.taskdef_arn:
            return Target(recorded.taskdef_arn, "the release record")
        current = str(service["taskDefinition"])
        return Target(current, "what the service runs now: no proven release is recorded yet")

    def _find(self, since: datetime) -> str:
        """The deployment UpdateService started, when its answer did not name it (an older
        endpoint): listed since just before the update, targeting our revision."""
        d = self.d

        def look() -> str:
            found = d.aws.ecs().list_service_deployments(
                cluster=d.settings.cluster, service=d.settings.service, createdAt={"after": since}
            )
            for brief in found.get("serviceDeployments", []):
                revision = str(brief.get("targetServiceRevisionArn", ""))
                if revision and ecs.revision_taskdef(d.aws, revision) == d.new_arn:
                    return str(brief["serviceDeploymentArn"])
            raise LookupError("not listed yet")

        deadline = 60.0
        for _ in range(int(deadline / max(d.settings.poll_interval, 0.01))):
            try:
                return d.watcher.persist.call("update: ListServiceDeployments", look, within=10)
            except LookupError:
                d.watcher.sleep(d.settings.poll_interval)
        raise AutopipeError("ECS lists no deployment for the update after 60 s")

    def _own_alarms(self, service: dict[str, Any]) -> list[str]:
        """Alarms autopipe must act on itself: the configured ones ECS does not watch."""
        config = (service.get("deploymentConfiguration") or {}).get("alarms") or {}
        watched_by_ecs = set(config.get("alarmNames") or []) if config.get("enable") else set()
        return [a for a in self.d.settings.alarms if a not in watched_by_ecs]

    def _ecs_rolled_back(self, outcome: rollout.Outcome) -> AutopipeError:
        d = self.d
        d.phase = "rollback"
        self.mark_failed(outcome.reason)
        back_to = ""
        revision = (outcome.deployment.get("rollback") or {}).get("serviceRevisionArn")
        if revision:
            back_to = ecs.revision_taskdef(d.aws, str(revision))
        back_to = back_to or d._target().taskdef_arn
        d.result["rollback"] = {
            "to": ecs.short(back_to),
            "by": "ecs",
            "deployment": d.deployment_arn,
            "state": "completed",
        }
        self.record(back_to)
        return RolledBack(f"{outcome.reason}; ECS rolled back to {ecs.short(back_to)}")

    def _smoke(self, rendered: Rendered) -> str:
        """'' when it passed (or was skipped); else why it failed."""
        d, s = self.d, self.d.settings
        if not (d.opts.smoke and s.url):
            why = "no url configured" if d.opts.smoke else "--no-smoke"
            d.reporter.step(f"smoke test skipped ({why})")
            return ""
        d.phase = "smoke"
        expect = {"image_tag": rendered.image_tag}
        if rendered.git_sha != "unknown":
            expect["git_sha"] = rendered.git_sha
        try:
            d.result["smoke_probes"] = smoke.smoke_test(
                s.url,
                expect=expect,
                passes=s.smoke_passes,
                interval=s.smoke_interval,
                timeout=s.smoke_timeout,
                reporter=d.reporter,
            )
        except smoke.SmokeFailed as exc:
            d.result["smoke_probes"] = exc.probes
            return f"smoke test failed: {exc}"
        return ""

    def _alarm_after(self, service: dict[str, Any]) -> str:
        """A deployment alarm in ALARM once the rollout is SUCCESSFUL fails the deploy too: ECS
        watches alarms only while its deployment runs, so after it autopipe must."""
        config = (service.get("deploymentConfiguration") or {}).get("alarms") or {}
        names = sorted({*self.d.settings.alarms, *(config.get("alarmNames") or [])})
        in_alarm = self.d.watcher.alarms_in_alarm(names)
        return f"alarm in ALARM after the rollout: {', '.join(in_alarm)}" if in_alarm else ""

    def _migration_started(self, task_arn: str) -> None:
        self.d.result["migration_task"] = task_arn

    def mark_failed(self, reason: str) -> None:
        """Tag the new revision failed and deregister it (best effort: the outcome does not
        depend on it)."""
        d = self.d
        if d.new_arn is None:
            return
        try:
            self.ensure()
            d.watcher.persist.call(
                "mark the revision failed",
                lambda: ecs.mark_failed(d.aws, str(d.new_arn), reason),
                within=15,
            )
            d.reporter.step(f"{ecs.short(d.new_arn)} tagged {ecs.FAILED_TAG} and deregistered")
        except Exception as exc:
            d.reporter.warn(f"could not tag {ecs.short(d.new_arn)} as failed: {exc}")

    def ensure(self) -> None:
        """The lock is still ours (LockLost otherwise), through transient AWS errors."""
        d = self.d
        d.watcher.persist.call("lock: still ours", d.lock.ensure, within=PATIENCE)

    def record(self, taskdef_arn: str) -> None:
        d = self.d
        self.ensure()
        release.record(d.aws, d.settings, d.reporter, taskdef_arn, persist=d.watcher.persist)
