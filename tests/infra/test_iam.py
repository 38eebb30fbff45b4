"""IAM: the GitHub OIDC trust, the deploy role's scope, and the task roles."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from tests.infra.cfn import as_list, resolve, statements
from tests.infra.conftest import ROOT, Synth

# Actions the Service Authorization Reference lists with no resource types (so "*" is the only
# possible Resource), written here rather than taken from the policy module under test:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html
NO_RESOURCE_TYPES = frozenset(
    {
        "elasticloadbalancing:DescribeRules",
        "ecr:GetAuthorizationToken",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
    }
)
BOOTSTRAPS = ("AutoPipe-staging-Bootstrap", "AutoPipe-production-Bootstrap")
ALL_STACKS = (*BOOTSTRAPS, "AutoPipe-staging", "AutoPipe-production", "AutoPipe-cheap")


def deploy_role(synth: Synth, stack: str) -> dict[str, Any]:
    roles: list[dict[str, Any]] = [
        r["Properties"] for r in synth.resources(stack, "AWS::IAM::Role").values()
    ]
    (role,) = [r for r in roles if r.get("RoleName") == "auto-pipe-github-deploy"]
    return role


@pytest.mark.parametrize("stack", BOOTSTRAPS)
def test_oidc_trust_is_pinned_to_issuer_audience_repo_and_environment(
    synth: Synth, stack: str
) -> None:
    env = stack.split("-")[1]
    provider = synth.one(stack, "AWS::IAM::OIDCProvider")
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]
    (trust,) = deploy_role(synth, stack)["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Effect"] == "Allow"
    assert "Ref" in trust["Principal"]["Federated"]  # the provider above, nobody else
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repo:example-org/auto-pipe:environment:{env}"
            ),
        }
    }


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_no_wildcard_actions(synth: Synth, stack: str) -> None:
    for logical, statement in statements(synth.template(stack)):
        for action in as_list(statement["Action"]):
            assert action != "*", logical
            assert not action.endswith(":*"), (logical, action)


@pytest.mark.parametrize("stack", BOOTSTRAPS)
def test_deploy_role_scope(synth: Synth, stack: str) -> None:
    env = stack.split("-")[1]
    document = deploy_role(synth, stack)["Policies"][0]["PolicyDocument"]
    for statement in document["Statement"]:
        actions = set(as_list(statement["Action"]))
        assert not any("*" in a for a in actions), actions
        resources = [resolve(r) for r in as_list(statement["Resource"])]
        if "*" in resources:
            assert resources == ["*"]
            assert actions <= NO_RESOURCE_TYPES, actions - NO_RESOURCE_TYPES
        for resource in resources:
            assert resource == "*" or ":123456789012:" in resource or "::123456789012:" in resource
        if "iam:PassRole" in actions:
            assert actions == {"iam:PassRole"}
            assert sorted(r.rsplit("/", 1)[1] for r in resources) == [
                "auto-pipe-execution-role",
                "auto-pipe-task-role",
            ]
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            }
        if actions == {"secretsmanager:GetSecretValue"}:
            # The one value the role reads: the test listener rule's header (no app secret).
            assert resources == [
                f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:auto-pipe/{env}/test-traffic-??????"
            ]
        elif any(a.startswith("secretsmanager:") for a in actions):
            assert actions == {"secretsmanager:DescribeSecret"}  # never an app secret's value
            assert all(f":secret:auto-pipe/{env}/" in r for r in resources)
        if "ecs:RunTask" in actions:
            cluster = resolve(statement["Condition"]["ArnEquals"]["ecs:cluster"])
            assert cluster == "arn:aws:ecs:eu-west-1:123456789012:cluster/auto-pipe-cluster"


# The deployer's AWS calls, read from its source: every one must be allowed to the role.
CALL = re.compile(r"\b(ecs|ecr|logs|cloudwatch|secrets|dynamodb|iam|ssm|elbv2)\(\)\s*\.\s*(\w+)\(")
PAGINATOR = re.compile(r"\b(ecs|ecr|logs|cloudwatch|ssm)\(\)\s*\.\s*get_paginator\(\s*\"(\w+)\"")
# accessor in autopipe.aws -> (botocore service, IAM action prefix)
SERVICES = {
    "secrets": ("secretsmanager", "secretsmanager"),
    "elbv2": ("elbv2", "elasticloadbalancing"),
}


def deployer_calls() -> set[str]:
    """IAM actions of the AWS calls in autopipe/ (the ECS model lives outside it)."""

    session = botocore.session.get_session()
    actions = set()
    for path in (ROOT / "autopipe").rglob("*.py"):
        text = path.read_text()
        for accessor, method in [*CALL.findall(text), *PAGINATOR.findall(text)]:
            if method == "get_paginator":
                continue
            service, prefix = SERVICES.get(accessor, (accessor, accessor))
            model = session.get_service_model(service)
            operation = next(o for o in model.operation_names if xform_name(o) == method)
            actions.add(f"{prefix}:{operation}")
    return actions


def test_deploy_role_allows_every_call_the_deployer_makes(synth: Synth) -> None:
    if not (ROOT / "autopipe").is_dir():
        pytest.skip("no autopipe package")
    calls = deployer_calls()
    assert {"ecs:UpdateService", "dynamodb:PutItem"} <= calls
    document = deploy_role(synth, BOOTSTRAPS[1])["Policies"][0]["PolicyDocument"]
    allowed = {a for s in document["Statement"] for a in as_list(s["Action"])}
    assert calls - allowed == set()


@pytest.mark.parametrize("stack", ["AutoPipe-staging", "AutoPipe-production"])
def test_task_roles_trust_only_this_accounts_ecs_tasks(synth: Synth, stack: str) -> None:
    roles = {
        r["Properties"].get("RoleName"): r["Properties"]
        for r in synth.resources(stack, "AWS::IAM::Role").values()
    }
    for name in ("auto-pipe-execution-role", "auto-pipe-task-role"):
        (trust,) = roles[name]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {
            "aws:SourceAccount": {"Ref": "AWS::AccountId"}
        }


def test_production_task_role_has_no_permissions(synth: Synth) -> None:
    template = synth.template("AutoPipe-production")
    task_role = next(
        k
        for k, r in template["Resources"].items()
        if r["Properties"].get("RoleName") == "auto-pipe-task-role"
    )
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            assert {"Ref": task_role} not in resource["Properties"]["Roles"]


def test_execution_role_reads_only_this_environments_secrets(synth: Synth) -> None:
    template = synth.template("AutoPipe-production")
    secrets = {
        k
        for k, r in template["Resources"].items()
        if r["Type"]
        in ("AWS::SecretsManager::Secret", "AWS::SecretsManager::SecretTargetAttachment")
    }
    for _, statement in statements(template):
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
            refs = {r["Ref"] for r in as_list(statement["Resource"])}
            assert refs <= secrets
