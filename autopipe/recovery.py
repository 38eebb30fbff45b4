"""Putting the service back on the last proven release, with ECS as the one controller.

While a service deployment runs, only ECS rolls it back: its circuit breaker and deployment
alarms do it on their own, and when autopipe decides (a failed smoke test, an interrupt, an
error it cannot get past) it asks ECS with StopServiceDeployment(stopType=ROLLBACK), which is
accepted while the deployment is PENDING or IN_PROGRESS and rolls back "to the previous service
revision" even when the service has no rollback option configured
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html).
A deployment ECS is already rolling back is only watched, never raced.

Where ECS cannot roll back, autopipe starts a new deployment of the last proven revision with
UpdateService and watches THAT deployment by its ARN. That is the case when the deployment is
already SUCCESSFUL (a rolling update is SUCCESSFUL once steady, so a smoke test that fails after
it finds nothing left to stop), when ECS's own rollback ended ROLLBACK_FAILED, and when the
deployment is unknown (UpdateService failed without an answer). For that one deployment the
alarm-based rollback is switched off, and restored after: the alarm that fired for the broken
release is still in ALARM, and ECS would otherwise fail the way back and "roll back" to the
broken release, the last SUCCESSFUL deployment
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autopipe import ecs, rollout
from autopipe.aws import Aws, error_code
from autopipe.config import Settings
from autopipe.errors import RollbackFailed
from autopipe.output import Reporter


@dataclass(frozen=True)
class Target:
    """Where to go back to: the revision the release record names, else the revision the
    failed deployment replaced (ECS's own record of what ran before; never a guess)."""

    taskdef_arn: str
    source: str  # "release record" | "the deployment's source revision"


@dataclass
class Result:
    to: str
    by: str  # "ecs" (circuit breaker / alarm), "ecs on request", "autopipe (UpdateService)"
    deployment_arn: str
    state: str = "completed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "to": ecs.short(self.to),
            "by": self.by,
            "deployment": self.deployment_arn,
            "state": self.state,
        }


class Recovery:
    def __init__(
        self, aws: Aws, settings: Settings, reporter: Reporter, watcher: rollout.Watcher
    ) -> None:
        self.aws, self.settings, self.reporter, self.watcher = aws, settings, reporter, watcher
        self.started: Result | None = None  # set once a rollback was asked for

    def request(self, deployment_arn: str | None, target: Target) -> Result:
        """Start the rollback and return at once (an interrupt: ECS finishes it without us)."""
        return self._start(deployment_arn, target)

    def roll_back(self, deployment_arn: str | None, target: Target) -> Result:
        """Start the rollback and wait until it is final. Raises RollbackFailed."""
        result = self._start(deployment_arn, target)
        timeout = self.settings.rollback_timeout
        outcome = self.watcher.watch(result.deployment_arn, timeout=timeout, what="rollback")
        expected = rollout.COMPLETED if result.by.startswith("autopipe") else "ecs_rolled_back"
        if outcome.state == "rollback_failed" and not result.by.startswith("autopipe"):
            self.reporter.warn(f"ECS's rollback failed ({outcome.reason}); trying UpdateService")
            result = self.started = self._update_to(target)
            outcome = self.watcher.watch(result.deployment_arn, timeout=timeout, what="rollback")
            expected = rollout.COMPLETED
        if result.by.startswith("autopipe"):
            self.restore_alarms()
        if outcome.state != expected:
            result.state = outcome.state
            raise RollbackFailed(
                f"the rollback to {ecs.short(target.taskdef_arn)} did not complete "
                f"({outcome.state}: {outcome.reason}); the service needs a human: "
                "`autopipe status` shows where it is",
                details={"rollback": result.as_dict()},
            )
        self.reporter.step(
            f"rollback complete: {ecs.short(target.taskdef_arn)} serves ({result.by})",
            style="yellow",
        )
        return result

    # --- starting it ------------------------------------------------------------------------

    def _start(self, deployment_arn: str | None, target: Target) -> Result:
        self.started = self._begin(deployment_arn, target)
        return self.started

    def _begin(self, deployment_arn: str | None, target: Target) -> Result:
        deployment = None
        if deployment_arn:
            deployment = self._visible(deployment_arn)
        status = str((deployment or {}).get("status", ""))
        if deployment_arn and status in rollout.ROLLING_BACK | {"ROLLBACK_SUCCESSFUL"}:
            self.reporter.step(f"ECS is rolling the deployment back ({status})", style="yellow")
            return Result(target.taskdef_arn, "ecs", deployment_arn)
        # Not visible yet (a stale read right after UpdateService) counts as stoppable: ECS
        # accepts the stop for a PENDING deployment too.
        if deployment_arn and (status in rollout.STOPPABLE or deployment is None):
            try:
                self.watcher.persist.call(
                    "rollback: StopServiceDeployment",
                    lambda: ecs.stop_deployment(self.aws, deployment_arn),
                    within=30,
                )
            except Exception as exc:
                # It went final between our read and the stop: fall through to UpdateService.
                if error_code(exc) not in {"ConflictException", "InvalidParameterException"}:
                    raise
                self.reporter.warn(f"ECS refused the stop ({error_code(exc)}): deployment ended")
            else:
                self.reporter.step(
                    f"asked ECS to roll back deployment {rollout.short_id(deployment_arn)} "
                    "(StopServiceDeployment, ROLLBACK)",
                    style="yellow",
                )
                return Result(target.taskdef_arn, "ecs on request", deployment_arn)
        return self._update_to(target)

    def _visible(self, arn: str, within: float = 15.0) -> dict[str, Any] | None:
        """The deployment as ECS describes it, waiting a little for a read that does not see
        it yet (eventual consistency right after UpdateService); None if it stays invisible."""
        deadline = self.watcher.clock() + within
        while True:
            found = self.watcher.persist.call(
                "rollback: DescribeServiceDeployments",
                lambda: ecs.describe_deployment(self.aws, arn),
                within=30,
            )
            if found is not None or self.watcher.clock() >= deadline:
                return found
            self.watcher.sleep(min(self.settings.poll_interval, 1.0))

    def _update_to(self, target: Target) -> Result:
        service = self.watcher.persist.call(
            "rollback: DescribeServices", lambda: ecs.describe_service(self.aws, self.settings),
            within=30,
        )  # fmt: skip
        suspended = self.suspend_alarms(service)
        updated = self.watcher.persist.call(
            "rollback: UpdateService",
            lambda: ecs.update_service(
                self.aws, self.settings, target.taskdef_arn, deployment_configuration=suspended
            ),
            within=60,
        )
        arn = str(updated.get("currentServiceDeployment") or "")
        if not arn:
            raise RollbackFailed("UpdateService answered without a service deployment ARN")
        self.reporter.step(
            f"rollback: service updated to {ecs.short(target.taskdef_arn)} "
            f"({target.source}); deployment {rollout.short_id(arn)}",
            style="yellow",
        )
        return Result(target.taskdef_arn, "autopipe (UpdateService)", arn)

    _saved_config: dict[str, Any] | None = None

    def suspend_alarms(self, service: dict[str, Any]) -> dict[str, Any] | None:
        """The service's deploymentConfiguration with alarm-based rollback off, for one
        deployment (None when it is off already); `restore_alarms` puts it back."""
        config = dict(service.get("deploymentConfiguration") or {})
        if not (config.get("alarms") or {}).get("enable"):
            return None
        if self._saved_config is None:  # the first one seen is the configured one
            self._saved_config = config
        # The whole configuration, as UpdateService replaces it rather than merging.
        return {**config, "alarms": {**config["alarms"], "enable": False}}

    def restore_alarms(self) -> None:
        saved, self._saved_config = self._saved_config, None
        if saved is None:
            return
        try:
            self.watcher.persist.call(
                "rollback: restore alarms",
                lambda: self.aws.ecs().update_service(
                    cluster=self.settings.cluster,
                    service=self.settings.service,
                    deploymentConfiguration=saved,  # type: ignore[arg-type]
                ),
                within=60,
            )
        except Exception as exc:
            self.reporter.warn(
                f"could not switch the deployment alarms back on ({type(exc).__name__}): "
                "the next infrastructure deploy restores them, or run the stack deploy now"
            )
