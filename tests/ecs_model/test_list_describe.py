"""ListServiceDeployments (filters, newest first, pagination) and DescribeServiceDeployments'
answer for ARNs it does not know."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from tests.ecs_model.conftest import CLUSTER, SERVICE, Cloud


def five_deployments(cloud: Cloud) -> list[str]:
    cloud.create_service("v0")
    cloud.until(cloud.newest(), "SUCCESSFUL")
    arns = [cloud.newest()]
    for n in range(1, 5):
        cloud.deploy(f"v{n}")
        arns.append(cloud.newest())
        cloud.until(arns[-1], "SUCCESSFUL")
    return arns


def test_newest_first_and_paginated(cloud: Cloud) -> None:
    arns = five_deployments(cloud)
    seen, token, pages = [], None, 0
    while True:
        extra: dict[str, str] = {"nextToken": token} if token else {}
        page = cloud.ecs.list_service_deployments(
            cluster=CLUSTER, service=SERVICE, maxResults=2, **extra
        )
        pages += 1
        seen += [d["serviceDeploymentArn"] for d in page["serviceDeployments"]]
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 3
    assert seen == list(reversed(arns))
    first = cloud.deployments()[0]
    assert first["status"] == "SUCCESSFUL"
    assert (
        first["targetServiceRevisionArn"]
        == cloud.describe(arns[-1])["targetServiceRevision"]["arn"]
    )


def test_status_and_created_at_filters(cloud: Cloud) -> None:
    arns = five_deployments(cloud)
    cloud.emulator.policy.outcomes["v9"] = "hang"
    cloud.deploy("v9")
    running = cloud.until(cloud.newest(), "IN_PROGRESS")
    only = cloud.deployments(status=["IN_PROGRESS"])
    assert [d["serviceDeploymentArn"] for d in only] == [running["serviceDeploymentArn"]]
    assert len(cloud.deployments(status=["SUCCESSFUL"])) == 5
    third = cloud.describe(arns[2])["createdAt"]
    after = cloud.deployments(createdAt={"after": third})
    assert [d["serviceDeploymentArn"] for d in after][-2:] == [arns[4], arns[3]]
    before = cloud.deployments(createdAt={"before": third})
    assert [d["serviceDeploymentArn"] for d in before] == [arns[1], arns[0]]
    assert cloud.deployments(createdAt={"after": third + timedelta(days=1)}) == []


def test_unknown_arns_are_failures_not_errors(cloud: Cloud) -> None:
    cloud.create_service("v0")
    known = cloud.newest()
    unknown = known.rsplit("/", 1)[0] + "/" + "x" * 22
    found = cloud.ecs.describe_service_deployments(serviceDeploymentArns=[known, unknown])
    assert [d["serviceDeploymentArn"] for d in found["serviceDeployments"]] == [known]
    assert found["failures"] == [{"arn": unknown, "reason": "MISSING"}]


def test_bad_input_is_refused(cloud: Cloud) -> None:
    cloud.create_service("v0")
    with pytest.raises(ClientError) as error:
        cloud.ecs.list_service_deployments(cluster=CLUSTER, service="no-such-service")
    assert error.value.response["Error"]["Code"] == "ServiceNotFoundException"
    with pytest.raises(ClientError) as error:
        cloud.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, nextToken="garbage")
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"
