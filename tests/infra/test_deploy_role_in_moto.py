"""The deploy role's synthesized policy, loaded into moto with IAM enforcement on: credentials
for it can make every call `autopipe deploy` (and the image push) makes, and are denied
deleting the cluster, creating IAM users and reading secret values.

moto can judge actions only: it sees a request's resource as `*` (it does not know which ARN a
call touches) and has no values for condition keys. So the role gets the synthesized policy
with every statement's actions as they are, its resources widened to `*` and its conditions
dropped; the resource and condition scoping is asserted on the template in test_iam.py."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests.infra.cfn import REGION, as_list, resolve
from tests.infra.conftest import Synth
from tests.infra.test_iam import deploy_role, deployer_calls

STACK = "AutoPipe-production-Bootstrap"
PUSH = {
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
}
RELEASE = {"ssm:PutParameter", "ssm:GetParameter"}
# Actions the role has on no resource at all. (It reads one secret, the test-traffic header's:
# moto does not evaluate resources, so that grant's limit is held by tests/infra/test_iam.py.)
DENIED = {
    "ecs:DeleteCluster",
    "ecs:DeleteService",
    "iam:CreateUser",
    "iam:AttachRolePolicy",
    "ecr:DeleteRepository",
    "dynamodb:DeleteTable",
}
BOTOCORE = {"secretsmanager": "secretsmanager", "elasticloadbalancing": "elbv2"}


def _post(url: str, body: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - the loopback moto server
        url, data=body.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        response.read()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        _post(f"{url}/moto-api/reset-auth", "inf")  # moto's settings are process-wide
        server.stop()


def _client(url: str, service: str, creds: dict[str, str]) -> Any:
    session: Any = boto3.session.Session()  # the service name is dynamic: untyped on purpose
    return session.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        # Bare calls: authorization comes first, so no parameters are needed to test it.
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}),
    )


ROOT_CREDENTIALS = {"AccessKeyId": "AKIAROOTROOTROOTROOT", "SecretAccessKey": "root"}


@pytest.fixture(scope="module")
def role_credentials(synth: Synth, moto_url: str) -> Iterator[dict[str, str]]:
    root = ROOT_CREDENTIALS
    role = deploy_role(synth, STACK)
    account = _client(moto_url, "sts", root).get_caller_identity()["Account"]
    provider = f"arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com"
    refs = dict.fromkeys(synth.resources(STACK, "AWS::IAM::OIDCProvider"), provider)
    iam = _client(moto_url, "iam", root)
    iam.create_role(
        RoleName=role["RoleName"],
        AssumeRolePolicyDocument=json.dumps(resolve(role["AssumeRolePolicyDocument"], refs)),
    )
    for policy in role["Policies"]:
        document = resolve(policy["PolicyDocument"], refs)
        for statement in document["Statement"]:
            statement["Resource"] = "*"
            statement.pop("Condition", None)
            # moto names CloudWatch's actions after its endpoint: monitoring:DescribeAlarms.
            actions = as_list(statement["Action"])
            statement["Action"] = actions + [
                a.replace("cloudwatch:", MOTO_CLOUDWATCH)
                for a in actions
                if a.startswith("cloudwatch:")
            ]
        iam.put_role_policy(
            RoleName=role["RoleName"],
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(document),
        )
    # Web-identity credentials first, then enforcement on (DESIGN.md).
    creds: dict[str, str] = _client(moto_url, "sts", root).assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{account}:role/{role['RoleName']}",
        RoleSessionName="github-actions",
        WebIdentityToken="token-from-github",
    )["Credentials"]
    _post(f"{moto_url}/moto-api/reset-auth", "0")
    try:
        yield creds
    finally:  # leave moto as found: enforcement off, no role (other tests share its state)
        _post(f"{moto_url}/moto-api/reset-auth", "inf")
        for policy in role["Policies"]:
            iam.delete_role_policy(RoleName=role["RoleName"], PolicyName=policy["PolicyName"])
        iam.delete_role(RoleName=role["RoleName"])


DENIED_CODE = "AccessDenied"
MOTO_CLOUDWATCH = "monitoring:"


def _error(url: str, creds: dict[str, str], action: str) -> str:
    """`AccessDenied`, another error code, or "" (a bare call that succeeded)."""

    prefix, operation = action.split(":")
    client = _client(url, BOTOCORE.get(prefix, prefix), creds)
    try:
        getattr(client, xform_name(operation))()
    except ClientError as exc:
        # JSON-protocol services get moto's XML denial, which botocore reports as "403".
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403:
            return DENIED_CODE
        return str(exc.response["Error"]["Code"])
    except Exception as exc:
        return type(exc).__name__
    return ""


def test_the_role_can_make_every_deploy_call(
    moto_url: str, role_credentials: dict[str, str]
) -> None:
    actions = sorted(deployer_calls() | PUSH | RELEASE)
    denied = [a for a in actions if _error(moto_url, role_credentials, a) == DENIED_CODE]
    assert denied == []
    assert _error(moto_url, role_credentials, "sts:GetCallerIdentity") == ""


@pytest.mark.parametrize("action", sorted(DENIED))
def test_the_role_is_denied(moto_url: str, role_credentials: dict[str, str], action: str) -> None:
    assert _error(moto_url, role_credentials, action) == DENIED_CODE
