"""The seed's resources, created in the emulator the way the CDK app and CI would create them in
AWS: network, cluster, repository with pushed and scanned images, roles, secrets, log group,
lock table, alarms, the load balancer (real ELBv2 resources, whose listener rules follow the
model's traffic: listener_rules.py), and the service on a bootstrap revision with no tasks yet."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from autopipe import ecs, resolve
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.images import registry_host
from ecs_model import listener_rules
from ecs_model.ecr import basic_result, enhanced_result
from ecs_model.emulator import Emulator

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
NETWORK_TAG = "autopipe-rehearsal"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# The test listener rule's header value (the stack creates it as a secret; autopipe reads it).
TEST_TRAFFIC_SECRET = "rehearsal-test-traffic-0123456789"  # noqa: S105 - a test world's value
SECRET_VALUES = {"API_KEYS": '["rehearsal-key-0123456789"]', "DB_PASSWORD": "rehearsal-db-password"}


@dataclass(frozen=True)
class ImageSpec:
    """An image as CI pushes it. One architecture: a single manifest under the tag. More: an
    OCI index under the tag plus each per-platform manifest by digest (as `docker buildx`
    pushes them); scan findings exist only on the per-platform manifests.

    findings: severity counts on every scanned platform (None: never scanned at all);
    unscanned: platforms basic scanning left unscanned (aws/containers-roadmap#1683, #2656);
    scanning: basic | enhanced (Amazon Inspector's result shape);
    index_scan: also give the index a complete scan of its own. No ECR does this; it keeps the
    deployer's index-level scan gate passing until that gate reads per-platform scans."""

    tag: str
    architectures: tuple[str, ...] = ("amd64",)
    findings: dict[str, int] | None = field(default_factory=lambda: {"LOW": 2, "MEDIUM": 1})
    unscanned: tuple[str, ...] = ()
    scanning: str = "basic"
    index_scan: bool = False


@dataclass(frozen=True)
class Seeded:
    subnet: str
    security_group: str
    bootstrap: str
    digests: dict[str, str]
    platforms: dict[str, dict[str, str]] = field(default_factory=dict)  # tag → arch → digest


def _sha(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _platform_manifest(emulator: Emulator, settings: Settings, spec: ImageSpec, arch: str) -> str:
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"User": "10001"}})
    config_digest = _sha(config.encode())
    emulator.blobs.put(settings.repository, config_digest, config.encode())
    layer = _sha(f"{spec.tag}/{arch}/layer".encode())
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": config_digest},
            "layers": [{"mediaType": DOCKER_LAYER, "size": 1024, "digest": layer}],
        }
    )


def push_image(
    aws: Aws, emulator: Emulator, settings: Settings, spec: ImageSpec
) -> tuple[str, dict[str, str]]:
    """Push the image (index and per-platform manifests when multi-arch) and record the scans
    ECR would have made. Returns the tag's digest and each platform's digest."""
    ecr, repo = aws.ecr(), settings.repository
    bodies = {
        arch: _platform_manifest(emulator, settings, spec, arch) for arch in spec.architectures
    }
    platforms = {arch: _sha(body.encode()) for arch, body in bodies.items()}
    if len(bodies) == 1:
        ((arch, body),) = bodies.items()
        ecr.put_image(
            repositoryName=repo,
            imageManifest=body,
            imageTag=spec.tag,
            imageManifestMediaType=DOCKER_MANIFEST,
            imageDigest=platforms[arch],
        )
        digest = platforms[arch]
    else:
        for arch, body in bodies.items():  # by digest, untagged, as buildx pushes them
            ecr.put_image(
                repositoryName=repo,
                imageManifest=body,
                imageDigest=platforms[arch],
                imageManifestMediaType=DOCKER_MANIFEST,
            )
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": DOCKER_MANIFEST,
                        "size": len(body),
                        "digest": platforms[arch],
                        "platform": {"architecture": arch, "os": "linux"},
                    }
                    for arch, body in bodies.items()
                ],
            }
        )
        digest = _sha(index.encode())
        ecr.put_image(
            repositoryName=repo,
            imageManifest=index,
            imageTag=spec.tag,
            imageManifestMediaType=OCI_INDEX,
            imageDigest=digest,
        )
    if spec.findings is not None:
        for arch, platform_digest in platforms.items():
            if arch not in spec.unscanned:
                emulator.scans.put(
                    repo, platform_digest, _scan(aws, spec, repo, platform_digest, arch)
                )
        if spec.index_scan and len(bodies) > 1:
            emulator.scans.put(repo, digest, basic_result(dict(spec.findings)))
    return digest, platforms


def _scan(aws: Aws, spec: ImageSpec, repo: str, digest: str, arch: str) -> dict[str, Any]:
    counts = dict(spec.findings or {})
    if spec.scanning == "enhanced":
        return enhanced_result(
            counts, account=aws.account_id(), repository=repo, digest=digest, architecture=arch
        )
    return basic_result(counts)


def network(aws: Aws) -> tuple[str, str]:
    """The VPC's subnet and security group (made once; emulated, so no address is real)."""
    ec2 = aws.client("ec2")
    tag = {"Name": "tag:Name", "Values": [NETWORK_TAG]}
    found = ec2.describe_subnets(Filters=[tag])["Subnets"]
    if found:
        groups = ec2.describe_security_groups(Filters=[tag])["SecurityGroups"]
        return str(found[0]["SubnetId"]), str(groups[0]["GroupId"])

    def tagged(kind: str) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": NETWORK_TAG}]}]

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
    # DNS hostnames on, as an ECS VPC has them (moto's RunTask needs it too).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.0.1.0/24", TagSpecifications=tagged("subnet")
    )["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName="app", Description="app", VpcId=vpc, TagSpecifications=tagged("security-group")
    )["GroupId"]
    return str(subnet), str(group)


def deployment_alarm(cloudwatch: Any, name: str) -> None:
    """A target-5xx alarm like the stack's, in OK."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="seed")


def blue_green_load_balancer(
    settings: Settings, account: str, resources: dict[str, str]
) -> dict[str, Any]:
    """The service's load balancer as the stack describes it, with what blue/green, canary and
    linear deployments need (an alternate target group, production and test listener rules, the
    infrastructure role; API_AdvancedConfiguration.html). `resources`: the ELBv2 resources
    listener_rules.create made in moto."""
    return {
        "targetGroupArn": resources["primary"],
        "containerName": settings.container,
        "containerPort": 8080,
        "advancedConfiguration": {
            "alternateTargetGroupArn": resources["alternate"],
            "productionListenerRule": resources["production_rule"],
            "testListenerRule": resources["test_rule"],
            "roleArn": f"arn:aws:iam::{account}:role/{settings.project}-ecs-infrastructure",
        },
    }


def load_balancer(
    aws: Aws, emulator: Emulator, settings: Settings, subnet: str, group: str
) -> dict[str, str]:
    """Real ELBv2 resources in moto, and the listener that moves their rules' weights as the
    model moves traffic (listener_rules.py); made afresh on every seed, replacing the last
    seed's listener."""
    listener_rules.reset()
    vpc = aws.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    resources = listener_rules.create(
        aws.client("elbv2"),
        name=settings.project,
        subnet=subnet,
        security_group=group,
        vpc=str(vpc),
        test_header_value=TEST_TRAFFIC_SECRET,
    )
    rules = listener_rules.ListenerRules(
        service_key=f"{settings.cluster}:{settings.service}",
        account=aws.account_id(),
        region=settings.region,
        primary=resources["primary"],
        alternate=resources["alternate"],
        production_rule=resources["production_rule"],
        test_rule=resources["test_rule"],
    )
    emulator.traffic_listeners[:] = [
        listener
        for listener in emulator.traffic_listeners
        if not isinstance(listener, listener_rules.ListenerRules)
    ]
    emulator.traffic_listeners.append(rules)
    return resources


def seed(aws: Aws, emulator: Emulator, settings: Settings, images: list[ImageSpec]) -> Seeded:
    subnet, group = network(aws)
    balancer = load_balancer(aws, emulator, settings, subnet, group)
    aws.ecs().create_cluster(clusterName=settings.cluster)
    aws.ecr().create_repository(
        repositoryName=settings.repository, imageScanningConfiguration={"scanOnPush": True}
    )
    pushed = {spec.tag: push_image(aws, emulator, settings, spec) for spec in images}
    digests = {tag: digest for tag, (digest, _) in pushed.items()}
    for role in (settings.execution_role, settings.task_role):
        aws.iam().create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    for name, ref in settings.secrets.items():
        secret, _, key = ref.partition(":")
        value = (
            json.dumps({key: SECRET_VALUES.get(name, "x")}) if key else SECRET_VALUES.get(name, "x")
        )
        aws.secrets().create_secret(Name=secret, SecretString=value)
    aws.secrets().create_secret(
        Name=settings.test_header_secret_name, SecretString=TEST_TRAFFIC_SECRET
    )
    aws.logs().create_log_group(logGroupName=settings.log_group)
    aws.dynamodb().create_table(
        TableName=settings.lock_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
    )
    for alarm in settings.alarms:
        deployment_alarm(aws.cloudwatch(), alarm)
    first = images[0]
    host = registry_host(aws.account_id(), settings.region)
    bootstrap = resolve.render(
        settings,
        resolve.AwsResolver(aws, settings),
        image_uri=f"{host}/{settings.repository}@{digests[first.tag]}",
        image_tag="bootstrap",
        git_sha="unknown",
    )
    bootstrap_arn = ecs.register(aws, bootstrap)
    awsvpc = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    aws.ecs().create_service(
        cluster=settings.cluster,
        serviceName=settings.service,
        taskDefinition=bootstrap_arn,
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration=awsvpc,  # type: ignore[arg-type]
        loadBalancers=[blue_green_load_balancer(settings, aws.account_id(), balancer)],  # type: ignore[list-item]
    )
    aws.ecs().update_service(
        cluster=settings.cluster,
        service=settings.service,
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": {
                "alarmNames": list(settings.alarms),
                "enable": bool(settings.alarms),
                "rollback": True,
            },
        },
    )
    platforms = {tag: per_arch for tag, (_, per_arch) in pushed.items()}
    return Seeded(subnet, group, bootstrap_arn, digests, platforms)
