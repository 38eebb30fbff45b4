"""The service's load balancer as real ELBv2 resources in moto (a load balancer, the primary and
alternate target groups, a listener, a production and a test listener rule, each a weighted
forward over both groups), and the weights ECS writes to those rules as traffic moves.

ECS shifts traffic for blue/green, canary and linear deployments by rewriting the forward
weights of the production and test listener rules (ModifyRule, with the infrastructure role):
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AdvancedConfiguration.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ForwardActionConfig.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupTuple.html
(weights 0-999; a group's share is its weight over the sum).

`ListenerRules` hears every change of the model's traffic (traffic.Traffic, through
`emulator.traffic_listeners`) and writes the same split to the rules through moto's ELBv2
backend in-process, so DescribeRules through boto3 shows the live split. Where the docs are
silent the model chooses, and says so: the blue revision keeps the group it is on, the green one
takes the other group (so the groups swap roles from one deployment to the next); with no test
route the test rule forwards as the production rule does; shares are rounded to whole weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecs_model.traffic import Traffic

TEST_HEADER = "X-Autopipe-Test-Traffic"


@dataclass
class ListenerRules:
    """Writes the model's traffic of one service to its two listener rules."""

    service_key: str  # cluster:service
    account: str
    region: str
    primary: str  # target group ARNs
    alternate: str
    production_rule: str
    test_rule: str
    groups: dict[str, str] = field(default_factory=dict)  # task definition ARN → target group

    def __call__(self, service_key: str, traffic: Traffic) -> None:
        if service_key != self.service_key:
            return
        present = [*traffic.production, *([traffic.test] if traffic.test else [])]
        self.groups = {t: g for t, g in self.groups.items() if t in present}
        for taskdef in present:
            if taskdef not in self.groups:
                taken = set(self.groups.values())
                free = [g for g in (self.primary, self.alternate) if g not in taken]
                self.groups[taskdef] = free[0] if free else self.primary
        production = self._weights(traffic.production)
        test = self._weights({traffic.test: 100.0}) if traffic.test else production
        self._write(self.production_rule, production)
        self._write(self.test_rule, test)

    def _weights(self, shares: dict[str, float]) -> dict[str, int]:
        weights = {self.primary: 0, self.alternate: 0}
        for taskdef, share in shares.items():
            group = self.groups.get(taskdef)
            if group is not None:
                weights[group] += round(share)
        return weights

    def _write(self, rule: str, weights: dict[str, int]) -> None:
        from moto.elbv2.models import elbv2_backends  # noqa: PLC0415 - in-process only

        backend: Any = elbv2_backends[self.account][self.region]
        backend.modify_rule(rule, conditions=[], actions=[forward(weights)])


def forward(weights: dict[str, int]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": g, "Weight": w} for g, w in weights.items()]
        },
    }


def create(
    elbv2: Any, *, name: str, subnet: str, security_group: str, vpc: str, test_header_value: str
) -> dict[str, str]:
    """The resources, as the stack creates them (infra/constructs/traffic_shift.py), named after
    `name` (the project's): initial weights primary 1, alternate 0. Returns their ARNs."""
    balancer = elbv2.create_load_balancer(
        Name=name, Subnets=[subnet], SecurityGroups=[security_group], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]

    def group(group_name: str) -> str:
        found = elbv2.create_target_group(
            Name=group_name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
            HealthCheckPath="/health",
        )  # fmt: skip
        return str(found["TargetGroups"][0]["TargetGroupArn"])

    primary, alternate = group(f"{name}-blue"), group(f"{name}-green")
    initial = forward({primary: 1, alternate: 0})
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[initial]
    )["Listeners"][0]["ListenerArn"]

    def rule(priority: int, condition: dict[str, Any]) -> str:
        found = elbv2.create_rule(
            ListenerArn=listener, Priority=priority, Conditions=[condition], Actions=[initial]
        )
        return str(found["Rules"][0]["RuleArn"])

    test = rule(
        1,
        {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": TEST_HEADER, "Values": [test_header_value]},
        },
    )
    production = rule(2, {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}})
    return {
        "load_balancer": str(balancer),
        "listener": str(listener),
        "primary": primary,
        "alternate": alternate,
        "production_rule": production,
        "test_rule": test,
    }


def reset() -> None:
    """Forget every ELBv2 resource (the emulator's reset keeps the ELBv2 backend)."""
    from moto.backends import get_backend  # noqa: PLC0415

    for per_account in get_backend("elbv2").values():
        per_account.reset()
