"""The listener rules' weights follow the model's traffic, read back through boto3's DescribeRules
as from AWS: a canary's share on production and all test traffic on the new revision's group,
then, after a rollback, everything back on the old revision's group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecs_model import listener_rules
from ecs_model.constants import ACCOUNT
from tests.ecs_model.conftest import Cloud, wait_for
from tests.ecs_model.test_strategies import KEY, start, strategy


@pytest.fixture
def made(cloud: Cloud) -> Iterator[dict[str, str]]:
    listener_rules.reset()
    subnets = cloud.client("ec2").describe_subnets(SubnetIds=[cloud.subnet])["Subnets"]
    resources = listener_rules.create(
        cloud.client("elbv2"), name="model", subnet=cloud.subnet, security_group=cloud.group,
        vpc=subnets[0]["VpcId"], test_header_value="model0123456789",
    )  # fmt: skip
    rules = listener_rules.ListenerRules(
        KEY, ACCOUNT, "us-east-1", resources["primary"], resources["alternate"],
        resources["production_rule"], resources["test_rule"],
    )  # fmt: skip
    cloud.emulator.traffic_listeners.append(rules)
    yield resources
    cloud.emulator.traffic_listeners.remove(rules)


def weights(cloud: Cloud, rule: str) -> dict[str, int]:
    (found,) = cloud.client("elbv2").describe_rules(RuleArns=[rule])["Rules"]
    (action,) = found["Actions"]
    assert action["Type"] == "forward"
    groups: list[dict[str, Any]] = action["ForwardConfig"]["TargetGroups"]
    return {str(g["TargetGroupArn"]): int(g["Weight"]) for g in groups}


def test_the_rules_start_as_the_stack_writes_them(cloud: Cloud, made: dict[str, str]) -> None:
    expected = {made["primary"]: 1, made["alternate"]: 0}
    assert weights(cloud, made["production_rule"]) == expected
    assert weights(cloud, made["test_rule"]) == expected


def test_the_rules_follow_a_canary_and_its_rollback(cloud: Cloud, made: dict[str, str]) -> None:
    canary = {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 60}  # held: 60 s of model time
    _, _, arn = start(cloud, strategy("CANARY", canaryConfiguration=canary))
    primary, alternate = made["primary"], made["alternate"]
    production, test = made["production_rule"], made["test_rule"]

    wait_for(lambda: weights(cloud, production)[alternate] or None, what="the canary's weight")
    assert weights(cloud, production) == {primary: 80, alternate: 20}
    assert weights(cloud, test) == {primary: 0, alternate: 100}

    cloud.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    cloud.until(arn, "ROLLBACK_SUCCESSFUL")
    assert weights(cloud, production) == {primary: 100, alternate: 0}
    assert weights(cloud, test) == {primary: 100, alternate: 0}  # no test route: as production
