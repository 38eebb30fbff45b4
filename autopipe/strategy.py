"""What a blue/green, canary or linear deploy asks ECS for, and how it reads where ECS is.

The gate (docs/deployer.md#strategies): ECS holds the deployment at POST_TEST_TRAFFIC_SHIFT with a
PAUSE lifecycle hook — the new revision runs and receives test traffic only, production traffic
stays on the old one — until autopipe calls ContinueServiceDeployment with CONTINUE (its smoke
test through the test listener rule passed) or ROLLBACK (it failed). Unanswered for
`test_gate_minutes`, ECS takes the hook's timeout action, ROLLBACK, by itself.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/pause-lifecycle-hooks.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/continue-service-deployment.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHook.html
"""

from __future__ import annotations

import math
from typing import Any

from autopipe.config import Settings

ECS_STRATEGY = {
    "rolling": "ROLLING",
    "blue_green": "BLUE_GREEN",
    "canary": "CANARY",
    "linear": "LINEAR",
}
GATE_STAGE = "POST_TEST_TRAFFIC_SHIFT"
BAKE_STAGE = "BAKE_TIME"
# Stages after the gate: a deployment seen there was let through already.
PAST_GATE = frozenset(
    {"PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", BAKE_STAGE, "CLEAN_UP"}
)


def ready(service: dict[str, Any]) -> bool:
    """The service has what ECS needs to shift traffic: a load balancer with an alternate
    target group and a test listener rule (loadBalancers[].advancedConfiguration,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AdvancedConfiguration.html).
    The stack creates them (infra/); until it does, a deploy stays rolling and says so."""
    for balancer in service.get("loadBalancers") or []:
        advanced = balancer.get("advancedConfiguration") or {}
        if advanced.get("alternateTargetGroupArn") and advanced.get("testListenerRule"):
            return True
    return False


def gate_hook() -> dict[str, Any]:
    return {"targetType": "PAUSE", "lifecycleStages": [GATE_STAGE]}


def deployment_configuration(settings: Settings, current: dict[str, Any]) -> dict[str, Any]:
    """The service's deploymentConfiguration with the strategy of `settings` (the circuit
    breaker, alarms and percentages it had are kept). Rolling: the strategy only."""
    config = {k: v for k, v in current.items() if k not in ("canaryConfiguration",
              "linearConfiguration", "lifecycleHooks", "bakeTimeInMinutes")}  # fmt: skip
    config["strategy"] = ECS_STRATEGY[settings.strategy]
    if not settings.shifts_traffic:
        return config
    config.update(
        timings(
            settings.strategy,
            bake_minutes=settings.bake_minutes,
            canary_percent=settings.canary_percent,
            canary_bake_minutes=settings.canary_bake_minutes,
            linear_step_percent=settings.linear_step_percent,
            linear_step_minutes=settings.linear_step_minutes,
        )
    )
    others = [h for h in current.get("lifecycleHooks") or [] if not _is_gate(h)]
    hook = gate_hook()
    hook["timeoutConfiguration"] = {
        "timeoutInMinutes": settings.test_gate_minutes,
        "action": "ROLLBACK",
    }
    config["lifecycleHooks"] = [*others, hook]
    return config


def timings(
    strategy: str,
    *,
    bake_minutes: int,
    canary_percent: float,
    canary_bake_minutes: int,
    linear_step_percent: float,
    linear_step_minutes: int,
) -> dict[str, Any]:
    """A traffic-shifting strategy and its timings in UpdateService's shape
    (API_DeploymentConfiguration.html). The stack sends the same through CloudFormation
    (infra/constructs/traffic_shift.py), so both come from here."""
    out: dict[str, Any] = {"strategy": ECS_STRATEGY[strategy], "bakeTimeInMinutes": bake_minutes}
    if strategy == "canary":
        out["canaryConfiguration"] = {
            "canaryPercent": canary_percent,
            "canaryBakeTimeInMinutes": canary_bake_minutes,
        }
    if strategy == "linear":
        out["linearConfiguration"] = {
            "stepPercent": linear_step_percent,
            "stepBakeTimeInMinutes": linear_step_minutes,
        }
    return out


def shift_seconds(settings: Settings) -> float:
    """How long ECS takes, by configuration, to move production traffic (CANARY: its bake;
    LINEAR: the wait after every step but the last, API_LinearConfiguration.html)."""
    if settings.strategy == "canary":
        return 60.0 * settings.canary_bake_minutes
    if settings.strategy == "linear":
        steps = math.ceil(100.0 / settings.linear_step_percent - 1e-9)
        return 60.0 * settings.linear_step_minutes * max(steps - 1, 0)
    return 0.0


def _is_gate(hook: dict[str, Any]) -> bool:
    return hook.get("targetType") == "PAUSE" and GATE_STAGE in (hook.get("lifecycleStages") or [])


def waiting_hook(deployment: dict[str, Any]) -> str | None:
    """The id of our PAUSE hook when the deployment waits at the gate, else None."""
    if deployment.get("lifecycleStage") != GATE_STAGE:
        return None
    for hook in deployment.get("lifecycleHookDetails") or []:
        if hook.get("targetType") == "PAUSE" and hook.get("status") == "AWAITING_ACTION":
            return str(hook["hookId"])
    return None


def at_gate(deployment: dict[str, Any]) -> bool:
    return waiting_hook(deployment) is not None or deployment.get("lifecycleStage") in PAST_GATE


def baking(deployment: dict[str, Any]) -> bool:
    return deployment.get("lifecycleStage") in (BAKE_STAGE, "CLEAN_UP")
