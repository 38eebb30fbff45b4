"""Where a blue/green, canary or linear deployment is: its stage, the traffic split, where test
traffic goes, and how long the current wait (gate, canary bake, linear step, bake) has left.

- The stage: `ServiceDeployment.lifecycleStage` (DescribeServiceDeployments,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html).
- The split: ECS moves traffic by rewriting the forward weights of the production and test
  listener rules named in the service's `loadBalancers[].advancedConfiguration`
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AdvancedConfiguration.html,
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html),
  so it is read with DescribeRules: each target group's share is its weight over the sum
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeRules.html,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ForwardActionConfig.html,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupTuple.html).
- Which revision is on which group: the rules name groups, not revisions, and the primary and
  alternate groups swap roles between deployments, so it is read from what API_ServiceDeployment
  documents per stage: before PRODUCTION_TRAFFIC_SHIFT the blue (source) revision has 100 % of
  production (the group holding all the production weight is blue's); from
  POST_TEST_TRAFFIC_SHIFT on the green (target) revision has 100 % of the test traffic (the
  group the test rule forwards to is green's). Where neither holds (e.g. while ECS rolls back)
  the split is shown per target group only, with `revision` null.
- Time left: ECS reports no start time for a stage. At the gate the PAUSE hook's `expiresAt`
  is exact. For a bake or a canary/linear wait the stage's start is taken as the deployment's
  `updatedAt` (ECS sets it on every change of the deployment, so it is at or after the true
  start) against `bakeTimeInMinutes`, `canaryBakeTimeInMinutes` or `stepBakeTimeInMinutes`
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html):
  an estimate, and labelled so (`estimate: true`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autopipe import ecs
from autopipe.aws import Aws, error_code

ONGOING = frozenset(
    {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
)
BEFORE_PRODUCTION = ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
                     "POST_TEST_TRAFFIC_SHIFT")  # fmt: skip
GREEN_HAS_TEST = ("POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
                  "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")  # fmt: skip
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
DEFAULT_CANARY_BAKE, DEFAULT_LINEAR_STEP = 10, 6  # minutes (API_CanaryConfiguration, _Linear)


def describe(
    aws: Aws, service: dict[str, Any], deployment: dict[str, Any] | None, *, at: datetime
) -> dict[str, Any] | None:
    """The shift of an ongoing BLUE_GREEN/CANARY/LINEAR deployment, or None (rolling, none)."""
    if not deployment or deployment.get("status") not in ONGOING:
        return None
    config = deployment.get("deploymentConfiguration") or {}
    strategy = str(config.get("strategy") or "ROLLING")
    if strategy == "ROLLING":
        return None
    stage = str(deployment.get("lifecycleStage") or "")
    groups, unavailable = _split(aws, service)
    green = None
    if groups is not None and deployment.get("status") == "IN_PROGRESS":
        green = _name_revisions(aws, groups, deployment, stage)
    return {
        "strategy": strategy,
        "stage": stage or None,
        "target_groups": groups,
        "production": _shares(groups, "production_percent"),
        "test_to": _test_to(groups),
        "split_unavailable": unavailable,
        "time_left": _time_left(deployment, strategy=strategy, stage=stage, green=green, at=at),
    }


def _split(aws: Aws, service: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, str | None]:
    advanced: dict[str, Any] = {}
    for balancer in service.get("loadBalancers") or []:
        if (balancer.get("advancedConfiguration") or {}).get("productionListenerRule"):
            advanced = {**balancer["advancedConfiguration"], "primary": balancer["targetGroupArn"]}
            break
    if not advanced:
        return None, "the service names no production listener rule"
    rules = [advanced["productionListenerRule"]]
    if advanced.get("testListenerRule"):
        rules.append(advanced["testListenerRule"])
    try:
        found = aws.elbv2().describe_rules(RuleArns=rules)["Rules"]
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc) or type(exc).__name__
        if code in DENIED:
            return None, f"DescribeRules denied ({code}): allow elasticloadbalancing:DescribeRules"
        return None, f"DescribeRules failed ({code})"
    weights = {str(r["RuleArn"]): _weights(r) for r in found}
    production = weights.get(rules[0], {})
    test = weights.get(rules[1], {}) if len(rules) > 1 else {}
    arns = list(dict.fromkeys([*production, *test]))
    groups = []
    for arn in arns:
        role = "primary" if arn == advanced["primary"] else (
            "alternate" if arn == advanced.get("alternateTargetGroupArn") else "other")  # fmt: skip
        groups.append(
            {
                "arn": arn,
                "name": arn.split(":targetgroup/")[-1].split("/")[0],
                "role": role,
                "revision": None,
                "production_weight": production.get(arn, 0),
                "production_percent": _percent(production, arn),
                "test_percent": _percent(test, arn) if test else None,
            }
        )
    return groups, None


def _weights(rule: Any) -> dict[str, int]:
    for action in rule.get("Actions") or []:
        if action.get("Type") != "forward":
            continue
        tuples = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if tuples:
            return {str(t["TargetGroupArn"]): int(t.get("Weight", 1)) for t in tuples}
        if action.get("TargetGroupArn"):
            return {str(action["TargetGroupArn"]): 1}
    return {}


def _percent(weights: dict[str, int], arn: str) -> float:
    total = sum(weights.values())
    return round(100.0 * weights.get(arn, 0) / total, 1) if total else 0.0


def _name_revisions(
    aws: Aws, groups: list[dict[str, Any]], deployment: dict[str, Any], stage: str
) -> dict[str, Any] | None:
    """Put `revision` on the groups where the stage says whose they are (module docstring);
    returns the new (green) revision's group, if known."""
    if len(groups) != 2:
        return None
    first, second = groups
    green_group = None
    if stage in GREEN_HAS_TEST:
        green_group = next((g for g in groups if g["test_percent"] == 100.0), None)
    if green_group is None and stage in BEFORE_PRODUCTION:
        blue_group = next((g for g in groups if g["production_percent"] == 100.0), None)
        if blue_group is not None:
            green_group = second if blue_group is first else first
    if green_group is None:
        return None
    green_arn = str(deployment["targetServiceRevision"]["arn"])
    sources = deployment.get("sourceServiceRevisions") or []
    blue_arn = str(sources[0]["arn"]) if sources else ""
    taskdefs = _taskdefs(aws, [a for a in (green_arn, blue_arn) if a])
    green_group["revision"] = taskdefs.get(green_arn)
    (second if green_group is first else first)["revision"] = taskdefs.get(blue_arn)
    return green_group


def _taskdefs(aws: Aws, revision_arns: list[str]) -> dict[str, str]:
    """Service revision ARN → `family:revision`, in one DescribeServiceRevisions call."""
    found = aws.ecs().describe_service_revisions(serviceRevisionArns=revision_arns)
    return {
        str(r["serviceRevisionArn"]): ecs.short(str(r.get("taskDefinition", "")))
        for r in found.get("serviceRevisions", [])
    }


def _shares(groups: list[dict[str, Any]] | None, key: str) -> dict[str, float] | None:
    if groups is None:
        return None
    return {str(g["revision"] or g["name"]): g[key] for g in groups}


def _test_to(groups: list[dict[str, Any]] | None) -> str | None:
    for g in groups or []:
        if g["test_percent"] == 100.0:
            return str(g["revision"] or g["name"])
    return None


def _time_left(
    deployment: dict[str, Any],
    *,
    strategy: str,
    stage: str,
    green: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any] | None:
    for hook in deployment.get("lifecycleHookDetails") or []:
        if hook.get("status") == "AWAITING_ACTION" and isinstance(hook.get("expiresAt"), datetime):
            left = (hook["expiresAt"] - at).total_seconds()
            return _wait("gate", None, left, estimate=False, then=str(hook.get("timeoutAction")))
    since = deployment.get("updatedAt")
    if not isinstance(since, datetime):
        return None
    waited = _configured_wait(deployment.get("deploymentConfiguration") or {}, strategy, stage)
    if waited is None:
        return None
    kind, configured, step_percent = waited
    elapsed = (at - since).total_seconds()
    if kind != "linear_step":
        return _wait(kind, configured, configured - elapsed, estimate=True)
    if green is None:
        return None
    # The steps taken so far; the current one began (steps - 1) waits after the stage did.
    steps = max(1, math.ceil(green["production_percent"] / step_percent - 1e-9))
    return _wait(kind, configured, steps * configured - elapsed, estimate=True)


def _configured_wait(
    config: dict[str, Any], strategy: str, stage: str
) -> tuple[str, float, float] | None:
    """(kind, seconds configured, linear step percent) of the wait the stage is in."""
    if stage == "BAKE_TIME":
        return "bake", 60.0 * float(config.get("bakeTimeInMinutes") or 0), 0.0
    if stage != "PRODUCTION_TRAFFIC_SHIFT":
        return None
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        minutes = float(canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE))
        return "canary_bake", 60.0 * minutes, 0.0
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        minutes = float(linear.get("stepBakeTimeInMinutes", DEFAULT_LINEAR_STEP))
        return "linear_step", 60.0 * minutes, float(linear.get("stepPercent") or 10.0)
    return None


def _wait(
    kind: str, configured: float | None, left: float, *, estimate: bool, then: str | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": kind,
        "configured_seconds": configured,
        "left_seconds": round(max(0.0, left), 1),
        "estimate": estimate,
        "basis": "updatedAt" if estimate else "expiresAt",
    }
    if then is not None:
        doc["then"] = then
    return doc


def lines(shift: dict[str, Any]) -> list[str]:
    """The human lines for `autopipe status`."""
    out = [f"  shift     {shift['strategy']} at {shift['stage'] or '-'}"]
    if shift["split_unavailable"]:
        out.append(f"  split     unavailable: {shift['split_unavailable']}")
    else:
        for g in shift["target_groups"] or []:
            who = g["revision"] or "revision unknown"
            test = "" if g["test_percent"] is None else f"  test {g['test_percent']:g} %"
            out.append(
                f"  split     {g['name']} ({g['role']}, {who}): "
                f"production {g['production_percent']:g} %{test}"
            )
    wait = shift["time_left"]
    if wait:
        label = {"gate": "gate times out", "bake": "bake left", "canary_bake":
                 "canary bake left", "linear_step": "step wait left"}[wait["kind"]]  # fmt: skip
        of = f" of {_clock(wait['configured_seconds'])}" if wait["configured_seconds"] else ""
        then = f" (then {wait['then']})" if wait.get("then") else ""
        est = " (estimate: from the deployment's updatedAt)" if wait["estimate"] else ""
        out.append(f"  wait      {label} {_clock(wait['left_seconds'])}{of}{then}{est}")
    return out


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s"


def now() -> datetime:
    return datetime.now(UTC)
