"""Blue/green, canary and linear deployments: ECS starts the new (green) revision beside the old
(blue) one and moves load-balancer traffic between them stage by stage, running lifecycle hooks.

The pages the rules follow:
- strategies and terms (bake time: both revisions run after production traffic moved):
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-how-it-works.html
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html
- the stages, and who gets which traffic in each:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHook.html
- hooks: a Lambda answers hookStatus SUCCEEDED (next stage), FAILED (roll back) or IN_PROGRESS
  (called again after callBackDelay seconds, 30 by default); no valid answer, or an error, rolls
  back. A PAUSE hook waits for ContinueServiceDeployment (CONTINUE or ROLLBACK) until its timeout
  (default 1440 minutes), then takes its timeout action (default ROLLBACK). All hooks of a stage
  must complete before the next stage.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/pause-lifecycle-hooks.html
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHookTimeoutConfiguration.html
- rollback before clean-up moves production traffic back to the blue tasks, which still run; no
  task is started for it.

Where the docs are silent the model chooses, and says so: a stage's hooks run once its own work
is done (the shift stages: after the shift); PRE_PRODUCTION_TRAFFIC_SHIFT hooks run while the
deployment reports PRODUCTION_TRAFFIC_SHIFT with nothing moved yet; test traffic reaches green
through the test listener rule; a shift is instantaneous. Each change reaches the
`emulator.traffic_listeners`: the seed's listener rules in moto's ELBv2 (listener_rules.py)
and, in a rehearsal with real containers, the loopback load balancer's weights (fleet.py).
Time: the configuration's minutes are `emulator.minute` seconds each.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from ecs_model.records import HookRun, ServiceDeployment
from ecs_model.service_view import now

if TYPE_CHECKING:
    from ecs_model.rollouts import Rollouts

STAGES = (
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
# The reported stages whose hooks run once the stage's work is done (PRE_PRODUCTION_TRAFFIC_SHIFT,
# a hook stage but no lifecycleStage, runs inside PRODUCTION_TRAFFIC_SHIFT before the shift).
HOOKED = frozenset(
    {
        "PRE_SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
)
DEFAULT_CALLBACK_DELAY = 30.0  # seconds
DEFAULT_PAUSE_MINUTES = 1440
Handler = Callable[[dict[str, Any]], Any]


@dataclass
class Traffic:
    """Who answers a service's requests: production shares by task definition, the test
    route's target, and every request served (`served[(taskdef, "production" | "test")]`)."""

    production: dict[str, float] = field(default_factory=dict)
    test: str | None = None
    served: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (time.time(), production shares, test target) after each change
    changes: list[tuple[float, dict[str, float], str | None]] = field(default_factory=list)
    # time.time() once `on_change` returned, per change: when a real load balancer routes by it
    applied: list[float] = field(default_factory=list)
    _since: Counter[str] = field(default_factory=Counter)  # per taskdef since the last change
    # Called after every change: a real load balancer follows the model's shares (alb.py).
    on_change: Callable[[Traffic], None] | None = None

    def set(self, production: dict[str, float], test: str | None = None) -> None:
        self.production = {k: v for k, v in production.items() if v > 0}
        self.test = test
        self._since.clear()
        self.changes.append((time.time(), dict(self.production), test))
        try:
            if self.on_change is not None:
                self.on_change(self)
        finally:
            self.applied.append(time.time())  # one per change, even if a listener failed

    def route(self, *, test: bool) -> str | None:
        """The task definition that answers one request (and count it). Production requests
        are spread by share, deterministically: the one furthest below its share answers."""
        if test:
            chosen = self.test
        elif not self.production:
            chosen = None
        else:
            chosen = min(self.production, key=lambda t: (self._since[t] + 1) / self.production[t])
            self._since[chosen] += 1
        if chosen is not None:
            self.served[(chosen, "test" if test else "production")] += 1
        return chosen

    def share(self, taskdef: str) -> float:
        return self.production.get(taskdef, 0.0)


class TrafficShift:
    """Advances the service deployments whose strategy is not ROLLING (called by the engine,
    under its lock)."""

    def __init__(self, rollouts: Rollouts) -> None:
        self.rollouts = rollouts
        self.emulator = rollouts.emulator

    # --- configuration -------------------------------------------------------------------------

    def _minutes(self, value: Any, default: float) -> float:
        return (default if value is None else float(value)) * self.emulator.minute

    def _blue(self, sd: ServiceDeployment) -> str | None:
        return sd.sources[0][0].task_definition if sd.sources else None

    def traffic(self, sd: ServiceDeployment) -> Traffic:
        found = self.rollouts.traffic.get(sd.key)
        if found is None:
            found = self.rollouts.traffic[sd.key] = Traffic(
                on_change=partial(self.emulator.traffic_changed, sd.key)
            )
            serving = self.rollouts.serving.get(sd.key) or self._blue(sd)
            if serving:
                found.set({serving: 100.0})
        return found

    # --- the stages ----------------------------------------------------------------------------

    def advance(self, sd: ServiceDeployment, at: float) -> None:
        if not sd.lifecycle_stage:
            self._enter(sd, STAGES[0], at)
            self.traffic(sd)
        stage = sd.lifecycle_stage
        if not self._work(sd, stage, at):
            return
        if sd.status != "IN_PROGRESS":  # the work failed the deployment
            return
        verdict = self._hooks(sd, stage, at)
        if verdict == "pending":
            return
        if verdict == "rollback":
            self.rollouts.fail_shift(sd, f"lifecycle hook failed at {stage}")
            return
        if stage == "CLEAN_UP":
            return
        self._enter(sd, STAGES[STAGES.index(stage) + 1], at)

    def _enter(self, sd: ServiceDeployment, stage: str, at: float) -> None:
        sd.lifecycle_stage, sd.stage_started, sd.updated_at = stage, at, now()
        if stage == "SCALE_UP":
            sd.phase_started, sd.runner_started = at, False

    def _work(self, sd: ServiceDeployment, stage: str, at: float) -> bool:
        """The stage's own work; True once it is done."""
        work = {
            "SCALE_UP": self._scale_up,
            "TEST_TRAFFIC_SHIFT": self._test_shift,
            "PRODUCTION_TRAFFIC_SHIFT": self._shift,
            "BAKE_TIME": self._bake,
            "CLEAN_UP": self._clean_up,
        }.get(stage)
        return True if work is None else work(sd, at)

    def _scale_up(self, sd: ServiceDeployment, at: float) -> bool:
        result = self.rollouts._phase(sd, at, sd.ecs_id, sd.taskdef_arn)
        if result == "failed":
            self.rollouts.fail_shift(sd, self.rollouts.circuit_breaker_reason)
            return True
        if result == "pending":
            return False
        self.rollouts.green_running(sd)
        return True

    def _test_shift(self, sd: ServiceDeployment, at: float) -> bool:
        traffic = self.traffic(sd)
        if traffic.test != sd.taskdef_arn:
            traffic.set(traffic.production, test=sd.taskdef_arn)
        return True

    def _bake(self, sd: ServiceDeployment, at: float) -> bool:
        return at - sd.stage_started >= self._minutes(sd.config.get("bakeTimeInMinutes"), 0)

    def _clean_up(self, sd: ServiceDeployment, at: float) -> bool:
        self.rollouts.completed_shift(sd, at)
        return True

    def _shift(self, sd: ServiceDeployment, at: float) -> bool:
        """One step of moving production traffic; True at 100 %. The PRE_PRODUCTION hooks come
        first: nothing moves until they completed."""
        traffic = self.traffic(sd)
        pre = self._hooks(sd, "PRE_PRODUCTION_TRAFFIC_SHIFT", at, only=True)
        if pre == "rollback":
            self.rollouts.fail_shift(sd, "lifecycle hook failed at PRE_PRODUCTION_TRAFFIC_SHIFT")
            return True
        if pre == "pending":
            return False
        green, blue = sd.taskdef_arn, self._blue(sd)
        current = traffic.share(green)
        if current >= 100.0:
            return True
        if current > 0 and at - sd.shifted_at < self._step_wait(sd):
            return False
        target = min(100.0, current + self._step(sd, current))
        shares = {green: target}
        if blue and blue != green:
            shares[blue] = round(100.0 - target, 6)
        traffic.set(shares, test=traffic.test)
        sd.shifted_at = at
        return target >= 100.0

    def _step(self, sd: ServiceDeployment, current: float) -> float:
        if sd.strategy == "CANARY":
            canary = dict(sd.config.get("canaryConfiguration") or {})
            first = float(canary.get("canaryPercent", 5.0))
            return first if current == 0 else 100.0
        if sd.strategy == "LINEAR":
            linear = dict(sd.config.get("linearConfiguration") or {})
            return float(linear.get("stepPercent", 10.0))
        return 100.0  # BLUE_GREEN: all at once

    def _step_wait(self, sd: ServiceDeployment) -> float:
        if sd.strategy == "CANARY":
            canary = dict(sd.config.get("canaryConfiguration") or {})
            return self._minutes(canary.get("canaryBakeTimeInMinutes"), 10)
        if sd.strategy == "LINEAR":
            linear = dict(sd.config.get("linearConfiguration") or {})
            return self._minutes(linear.get("stepBakeTimeInMinutes"), 6)
        return 0.0

    # --- hooks ---------------------------------------------------------------------------------

    def _hooks(self, sd: ServiceDeployment, stage: str, at: float, *, only: bool = False) -> str:
        """done | pending | rollback, for every hook configured at the hook stage `stage`
        (`only`: whether or not the stage is a reported one)."""
        if not only and stage not in HOOKED:
            return "done"
        runs = [h for h in sd.hooks if h.stage == stage]
        if not runs:
            runs = [self._start_hook(sd, hook, stage, at) for hook in self._configured(sd, stage)]
        for run in runs:
            self._step_hook(sd, run, at)
        if any(r.status in ("FAILED",) for r in runs):
            return "rollback"
        if any(r.status == "TIMED_OUT" and r.timeout_action == "ROLLBACK" for r in runs):
            return "rollback"
        if any(r.status in ("IN_PROGRESS", "AWAITING_ACTION") for r in runs):
            return "pending"
        return "done"

    def _configured(self, sd: ServiceDeployment, stage: str) -> list[dict[str, Any]]:
        hooks = sd.config.get("lifecycleHooks") or []
        return [dict(h) for h in hooks if stage in (h.get("lifecycleStages") or [])]

    def _start_hook(
        self, sd: ServiceDeployment, hook: dict[str, Any], stage: str, at: float
    ) -> HookRun:
        kind = str(hook.get("targetType") or "AWS_LAMBDA")
        timeout = dict(hook.get("timeoutConfiguration") or {})
        minutes = float(timeout.get("timeoutInMinutes", DEFAULT_PAUSE_MINUTES))
        prefix = "ecs-pause" if kind == "PAUSE" else "ecs-hook"
        run = HookRun(
            hook_id=f"{prefix}-{secrets.token_urlsafe(32)}",
            target_type=kind,
            stage=stage,
            target_arn=str(hook.get("hookTargetArn") or "") if kind != "PAUSE" else "",
            status="AWAITING_ACTION" if kind == "PAUSE" else "IN_PROGRESS",
            timeout_action=str(timeout.get("action") or "ROLLBACK"),
            expires_at=now() + timedelta(minutes=minutes),
            expires=at + minutes * self.emulator.minute,
            next_call=at,
            details=dict(hook.get("hookDetails") or {}),
        )
        sd.hooks = [*sd.hooks, run]
        return run

    def _step_hook(self, sd: ServiceDeployment, run: HookRun, at: float) -> None:
        if run.status not in ("IN_PROGRESS", "AWAITING_ACTION"):
            return
        if at >= run.expires:
            run.status = "TIMED_OUT"
            return
        if run.target_type != "AWS_LAMBDA" or at < run.next_call:
            return
        run.calls += 1
        handler = self.emulator.lambdas.get(run.target_arn)
        event = {
            "serviceArn": sd.service_arn,
            "serviceDeploymentArn": sd.arn,
            "targetServiceRevisionArn": sd.target.arn,
            "lifecycleStage": run.stage,
            "hookDetails": dict(run.details),
        }
        try:
            if handler is None:
                raise LookupError(f"no function {run.target_arn}")
            answer = handler(event)
            status = str(answer.get("hookStatus"))
        except Exception:  # the invocation failed: ECS rolls back
            run.status = "FAILED"
            return
        if status not in ("SUCCEEDED", "FAILED", "IN_PROGRESS"):
            run.status = "FAILED"
            return
        run.status = status
        if isinstance(answer.get("hookDetails"), dict):
            run.details = dict(answer["hookDetails"])
        delay = float(answer.get("callBackDelay", DEFAULT_CALLBACK_DELAY))
        run.next_call = at + delay / 60.0 * self.emulator.minute

    def answer(self, sd: ServiceDeployment, hook_id: str, action: str) -> None:
        """ContinueServiceDeployment on a PAUSE hook awaiting action."""
        run = next((h for h in sd.hooks if h.hook_id == hook_id), None)
        if run is None or run.target_type != "PAUSE" or run.status != "AWAITING_ACTION":
            raise LookupError(hook_id)
        run.status = "SUCCEEDED" if action == "CONTINUE" else "FAILED"

    # --- rollback ------------------------------------------------------------------------------

    def roll_back(self, sd: ServiceDeployment) -> None:
        """Production (and test) traffic back to the blue tasks at once: they never stopped."""
        blue = self._blue(sd)
        traffic = self.traffic(sd)
        if blue is None:
            return
        traffic.set({blue: 100.0}, test=None)
        for run in sd.hooks:
            if run.status in ("IN_PROGRESS", "AWAITING_ACTION"):
                run.status = "FAILED"
        sd.hooks = list(sd.hooks)
