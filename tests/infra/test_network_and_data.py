"""Security properties of the network, the registry, the database, secrets and the lock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synth

STAGING, PRODUCTION, CHEAP = "AutoPipe-staging", "AutoPipe-production", "AutoPipe-cheap"
SERVICE_STACKS = (STAGING, PRODUCTION, CHEAP)


def groups(synth: Synth, stack: str) -> dict[str, str]:
    """Security group logical id -> its role (by the description the construct gives it)."""
    found = synth.resources(stack, "AWS::EC2::SecurityGroup")
    role = {
        "auto-pipe load balancer": "alb",
        "auto-pipe tasks": "tasks",
        "auto-pipe database": "db",
    }
    return {
        logical: next(
            v for k, v in role.items() if r["Properties"]["GroupDescription"].startswith(k)
        )
        for logical, r in found.items()
    }


def ingress(synth: Synth, stack: str) -> set[tuple[str, str, int]]:
    """(source, target, port) for every ingress rule, inline or standalone."""
    names = groups(synth, stack)
    rules: set[tuple[str, str, int]] = set()
    for logical, r in synth.resources(stack, "AWS::EC2::SecurityGroup").items():
        for rule in r["Properties"].get("SecurityGroupIngress", []):
            source = rule.get("CidrIp") or names[rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]]
            rules.add((source, names[logical], rule["FromPort"]))
    for r in synth.resources(stack, "AWS::EC2::SecurityGroupIngress").values():
        p = r["Properties"]
        source = names[p["SourceSecurityGroupId"]["Fn::GetAtt"][0]]
        rules.add((source, names[p["GroupId"]["Fn::GetAtt"][0]], p["FromPort"]))
    return rules


@pytest.mark.parametrize("stack", SERVICE_STACKS)
def test_security_group_paths(synth: Synth, stack: str) -> None:
    assert ingress(synth, stack) == {
        ("0.0.0.0/0", "alb", 80),
        ("0.0.0.0/0", "alb", 443),
        ("alb", "tasks", 8080),
        ("tasks", "db", 5432),
    }


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_tasks_run_in_private_subnets_without_public_ips(synth: Synth, stack: str) -> None:
    network = synth.one(stack, "AWS::ECS::Service")["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    subnets = synth.resources(stack, "AWS::EC2::Subnet")
    for ref in network["Subnets"]:
        assert subnets[ref["Ref"]]["Properties"]["MapPublicIpOnLaunch"] is False
    nat = len(synth.resources(stack, "AWS::EC2::NatGateway"))
    assert nat == (2 if stack == PRODUCTION else 1)


def test_the_cheap_option_uses_public_subnets_and_no_nat(synth: Synth) -> None:
    network = synth.one(CHEAP, "AWS::ECS::Service")["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "ENABLED"
    assert synth.resources(CHEAP, "AWS::EC2::NatGateway") == {}


@pytest.mark.parametrize("stack", SERVICE_STACKS)
def test_vpc_spans_two_azs_with_flow_logs(synth: Synth, stack: str) -> None:
    zones = {
        s["Properties"]["AvailabilityZone"]
        for s in synth.resources(stack, "AWS::EC2::Subnet").values()
    }
    assert zones == {"eu-west-1a", "eu-west-1b"}
    assert synth.one(stack, "AWS::EC2::FlowLog")["TrafficType"] == "ALL"


def test_ecr_repository(synth: Synth) -> None:
    template = synth.assertions("AutoPipe-production-Bootstrap")
    template.has_resource_properties(
        "AWS::ECR::Repository",
        {
            "RepositoryName": "auto-pipe-api",
            "ImageTagMutability": "IMMUTABLE",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "EncryptionConfiguration": {"EncryptionType": "KMS"},
            "LifecyclePolicy": {
                "LifecyclePolicyText": Match.serialized_json(
                    {
                        "rules": [
                            Match.object_like(
                                {
                                    "selection": {
                                        "tagStatus": "untagged",
                                        "countType": "sinceImagePushed",
                                        "countNumber": 1,
                                        "countUnit": "days",
                                    }
                                }
                            ),
                            Match.object_like(
                                {
                                    "selection": {
                                        "tagStatus": "tagged",
                                        "tagPatternList": ["*"],
                                        "countType": "imageCountMoreThan",
                                        "countNumber": 30,
                                    }
                                }
                            ),
                        ]
                    }
                )
            },
        },
    )


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_database_is_encrypted_private_and_backed_up(synth: Synth, stack: str) -> None:
    db: dict[str, Any] = synth.one(stack, "AWS::RDS::DBInstance")
    assert db["StorageEncrypted"] is True
    assert "KmsKeyId" in db
    assert db["PubliclyAccessible"] is False
    assert db["BackupRetentionPeriod"] >= 3
    assert db["Engine"] == "postgres"
    subnet_group = synth.one(stack, "AWS::RDS::DBSubnetGroup")
    subnets = synth.resources(stack, "AWS::EC2::Subnet")
    for ref in subnet_group["SubnetIds"]:
        tags = {t["Key"]: t["Value"] for t in subnets[ref["Ref"]]["Properties"]["Tags"]}
        assert tags["aws-cdk:subnet-type"] == "Isolated"
    production = stack == PRODUCTION
    assert db["DeletionProtection"] is production
    assert db["MultiAZ"] is production
    params = synth.one(stack, "AWS::RDS::DBParameterGroup")["Parameters"]
    assert params["rds.force_ssl"] == "1"


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_secrets_are_generated_and_encrypted(synth: Synth, stack: str) -> None:
    env = stack.split("-")[1]
    secrets = {
        s["Properties"]["Name"]: s["Properties"]
        for s in synth.resources(stack, "AWS::SecretsManager::Secret").values()
    }
    # Both environments shift traffic (blue/green, canary): the test listener rule's secret too.
    assert set(secrets) == {
        f"auto-pipe/{env}/api-keys",
        f"auto-pipe/{env}/db",
        f"auto-pipe/{env}/test-traffic",
    }
    for props in secrets.values():
        assert "SecretString" not in props  # generated, never in the template
        assert "GenerateSecretString" in props
    # Credentials are under the stack's key; the routing token under the account's (a written
    # cdk-nag/checkov exception: the deploy role in the other stack reads it).
    assert "KmsKeyId" in secrets[f"auto-pipe/{env}/api-keys"]
    assert "KmsKeyId" in secrets[f"auto-pipe/{env}/db"]
    assert secrets[f"auto-pipe/{env}/api-keys"]["GenerateSecretString"]["GenerateStringKey"] == (
        "API_KEYS"
    )
    # Production keeps the database secret on delete: the final snapshot needs its password.
    kept = {
        r["Properties"]["Name"]: r.get("DeletionPolicy")
        for r in synth.resources(stack, "AWS::SecretsManager::Secret").values()
    }
    assert kept[f"auto-pipe/{env}/db"] == ("Retain" if env == "production" else "Delete")


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_deploy_lock_table_matches_autopipe(synth: Synth, stack: str) -> None:
    table = synth.one(stack, "AWS::DynamoDB::GlobalTable")
    assert table["TableName"] == "auto-pipe-locks"
    assert table["KeySchema"] == [{"AttributeName": "lock_id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "lock_id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_log_group_and_access_logs(synth: Synth, stack: str) -> None:
    template = synth.assertions(stack)
    days = 90 if stack == PRODUCTION else 30
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/ecs/auto-pipe-app",
            "RetentionInDays": days,
            "KmsKeyId": Match.any_value(),
        },
    )
    for group in synth.resources(stack, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == days
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_registry_replication_follows_the_configuration(synth: Synth) -> None:
    # The example's two accounts turn it on (test_alerts_keys_images.py); one way only each.
    assert synth.resources("AutoPipe-staging-Bootstrap", "AWS::ECR::RegistryPolicy") == {}
    assert (
        synth.resources("AutoPipe-production-Bootstrap", "AWS::ECR::ReplicationConfiguration") == {}
    )
    rule = synth.one("AutoPipe-cheap-Bootstrap", "AWS::ECR::ReplicationConfiguration")[
        "ReplicationConfiguration"
    ]["Rules"][0]
    assert rule["Destinations"][0]["RegistryId"] == "222222222222"
    assert rule["RepositoryFilters"] == [{"Filter": "auto-pipe-api", "FilterType": "PREFIX_MATCH"}]
    (statement,) = synth.one("AutoPipe-cheap-Bootstrap", "AWS::ECR::RegistryPolicy")["PolicyText"][
        "Statement"
    ]
    assert statement["Action"] == ["ecr:CreateRepository", "ecr:ReplicateImage"]
    assert "111111111111" in json.dumps(statement["Principal"])
