"""Per-call faults, server side: each kind raises what botocore raises for the real thing, the
counters show what fired, and the deployer's retry settings absorb a short throttling burst."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.ecs_model.conftest import CLUSTER, Cloud, session


def bare(cloud: Cloud, service: str) -> Any:
    """A client that does not retry: the fault's own exception."""
    return session().client(  # type: ignore[call-overload]
        service,
        endpoint_url=cloud.emulator.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("ecs", lambda c: c.list_clusters(), "ThrottlingException"),
        ("dynamodb", lambda c: c.list_tables(), "ThrottlingException"),
        ("ecr", lambda c: c.describe_repositories(), "ThrottlingException"),
        ("ssm", lambda c: c.describe_parameters(), "ThrottlingException"),
        ("monitoring", lambda c: c.describe_alarms(), "Throttling"),  # CloudWatch: RPC v2 CBOR
        ("sts", lambda c: c.get_caller_identity(), "Throttling"),  # query protocol
    ],
)
def test_throttling_as_each_service_says_it(
    cloud: Cloud, service: str, call: Any, code: str
) -> None:
    client_name = {"monitoring": "cloudwatch"}.get(service, service)
    cloud.emulator.faults.add(service, "*", "throttle", count=1)
    with pytest.raises(ClientError) as error:
        call(bare(cloud, client_name))
    assert code_of(error) == (code, 400)
    assert cloud.emulator.faults.fired(service, kind="throttle") == 1
    call(bare(cloud, client_name))  # the burst is over


def test_provisioned_throughput_exceeded(cloud: Cloud) -> None:
    cloud.emulator.faults.add(
        "dynamodb", "ListTables", "throttle", code="ProvisionedThroughputExceededException"
    )
    with pytest.raises(ClientError) as error:
        bare(cloud, "dynamodb").list_tables()
    assert code_of(error) == ("ProvisionedThroughputExceededException", 400)


def test_expired_token(cloud: Cloud) -> None:
    cloud.emulator.faults.add("ecs", "DescribeServices", "expired_token")
    with pytest.raises(ClientError) as error:
        cloud.aws.ecs().describe_services(cluster=CLUSTER, services=["x"])  # retries do not help
    assert code_of(error) == ("ExpiredTokenException", 400)
    assert cloud.emulator.faults.seen("ecs", "DescribeServices") == 1


def test_connection_closed_without_an_answer(cloud: Cloud) -> None:
    cloud.emulator.faults.add("ecs", "ListClusters", "connection")
    with pytest.raises(ConnectionClosedError):
        bare(cloud, "ecs").list_clusters()
    assert cloud.emulator.faults.fired("ecs", "ListClusters", "connection") == 1
    assert bare(cloud, "ecs").list_clusters()["clusterArns"]


def test_standard_retries_absorb_a_short_burst_not_a_long_one(cloud: Cloud) -> None:
    # botocore's standard mode: 3 attempts in all (autopipe's Aws: max_attempts=5, so 6).
    ecs = session().client(
        "ecs", endpoint_url=cloud.emulator.url, config=Config(retries={"mode": "standard"})
    )
    faults = cloud.emulator.faults
    faults.add("ecs", "ListClusters", "throttle", count=2)
    assert ecs.list_clusters()["clusterArns"]
    assert (faults.fired("ecs", "ListClusters"), faults.seen("ecs", "ListClusters")) == (2, 3)
    faults.clear()
    faults.add("ecs", "ListClusters", "throttle", count=10)
    with pytest.raises(ClientError) as error:
        ecs.list_clusters()
    assert code_of(error) == ("ThrottlingException", 400)
    assert "reached max retries: 2" in str(error.value)
    assert faults.fired("ecs", "ListClusters") == 3


def test_after_lets_calls_through_first(cloud: Cloud) -> None:
    faults = cloud.emulator.faults
    fault = faults.add("ecs", "ListClusters", "throttle", count=1, after=2)
    ecs = bare(cloud, "ecs")
    ecs.list_clusters()
    ecs.list_clusters()
    with pytest.raises(ClientError):
        ecs.list_clusters()
    ecs.list_clusters()
    assert (fault.seen, fault.fired) == (4, 1)
    assert [(i.service, i.operation, i.kind, i.code) for i in faults.injected] == [
        ("ecs", "ListClusters", "throttle", "ThrottlingException")
    ]


def test_counters_and_clear(cloud: Cloud) -> None:
    faults = cloud.emulator.faults
    faults.clear()
    ecs = bare(cloud, "ecs")
    ecs.list_clusters()
    ecs.describe_clusters(clusters=[CLUSTER])
    assert faults.seen("ecs") == 2
    assert faults.seen("ecs", "DescribeClusters") == 1
    faults.add("*", "*", "throttle", count=100)
    with pytest.raises(ClientError):
        bare(cloud, "sts").get_caller_identity()
    faults.clear()
    assert (faults.seen("ecs"), faults.fired()) == (0, 0)
    assert bare(cloud, "sts").get_caller_identity()["Account"]


def test_an_unknown_kind_is_refused(cloud: Cloud) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        cloud.emulator.faults.add("ecs", "*", "gremlins")
