"""The model under test, through boto3 as a user reaches it: one in-process emulator for the
package, reset before each test, with a cluster, a network and helpers to drive a service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import boto3
import pytest

from autopipe.aws import Aws
from ecs_model.emulator import Emulator
from ecs_model.seed import deployment_alarm, network
from testbed import waiting

T = TypeVar("T")
CLUSTER = "model-cluster"
SERVICE = "model-service"
FAMILY = "model-task"
ALARM = "model-5xx"


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "") -> T:
    """testbed's poll with a deadline, in the keyword form these tests call it."""
    return cast(T, waiting.wait_for(probe, what or repr(probe), timeout))


@dataclass
class Cloud:
    emulator: Emulator
    aws: Aws
    subnet: str = ""
    group: str = ""
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, name: str) -> Any:
        if name not in self.clients:
            self.clients[name] = self.aws.client(name)
        return self.clients[name]

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    def register(self, tag: str) -> str:
        container = {
            "name": "app",
            "image": f"repo:{tag}",
            "memory": 512,
            "essential": True,
            "environment": [{"name": "IMAGE_TAG", "value": tag}],
        }
        found = self.ecs.register_task_definition(
            family=FAMILY,
            containerDefinitions=[container],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
        )
        return str(found["taskDefinition"]["taskDefinitionArn"])

    def create_service(
        self, tag: str = "v0", *, desired: int = 2, rollback: bool = True, alarms: bool = False
    ) -> str:
        arn = self.register(tag)
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=arn,
            desiredCount=desired,
            launchType="FARGATE",
            networkConfiguration=self.network(),
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": rollback},
                "alarms": {"alarmNames": [ALARM], "enable": alarms, "rollback": rollback},
            },
        )
        return arn

    def network(self) -> dict[str, Any]:
        return {"awsvpcConfiguration": {"subnets": [self.subnet], "securityGroups": [self.group]}}

    def deploy(self, tag: str, **extra: Any) -> dict[str, Any]:
        """UpdateService to a new revision of `tag`; returns the response's service."""
        arn = self.register(tag)
        found = self.ecs.update_service(
            cluster=CLUSTER, service=SERVICE, taskDefinition=arn, **extra
        )
        return dict(found["service"])

    def deployments(self, **filters: Any) -> list[dict[str, Any]]:
        found = self.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, **filters)
        return list(found["serviceDeployments"])

    def newest(self) -> str:
        return str(self.deployments()[0]["serviceDeploymentArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        found = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
        return dict(found["serviceDeployments"][0])

    def service(self) -> dict[str, Any]:
        found = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])
        return dict(found["services"][0])

    def until(self, arn: str, *statuses: str, timeout: float = 10.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            doc = self.describe(arn)
            return doc if doc["status"] in statuses else None

        return wait_for(probe, timeout=timeout, what=f"{arn} in {statuses}")

    def alarm(self, state: str) -> None:
        self.client("cloudwatch").set_alarm_state(
            AlarmName=ALARM, StateValue=state, StateReason="test"
        )


@pytest.fixture(scope="package")
def emulator() -> Iterator[Emulator]:
    with Emulator(step=0.1, alarm_poll=0.1) as emulator:
        yield emulator


@pytest.fixture(scope="package")
def subnet_and_group(emulator: Emulator) -> tuple[str, str]:
    """The VPC, made once: reset() keeps EC2."""
    return network(Aws(region="us-east-1", endpoint_url=emulator.url, session=session()))


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


@pytest.fixture
def cloud(emulator: Emulator, subnet_and_group: tuple[str, str]) -> Cloud:
    emulator.reset()
    emulator.step, emulator.alarm_poll, emulator.task_failures_per_tick = 0.1, 0.1, 1
    emulator.minute = 1.0
    aws = Aws(region="us-east-1", endpoint_url=emulator.url, session=session())
    world = Cloud(emulator, aws)
    world.subnet, world.group = subnet_and_group
    world.ecs.create_cluster(clusterName=CLUSTER)
    deployment_alarm(world.client("cloudwatch"), ALARM)
    return world
