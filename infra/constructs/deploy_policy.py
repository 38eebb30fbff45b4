"""What the GitHub deploy role may do: exactly what the pipeline and `autopipe deploy` call,
on this environment's service, task family, repository, roles, secrets, log group, alarms,
lock table and release parameters. No `*` action anywhere; `*` resources only where the
action has no resource-level permissions (listed in `UNSCOPABLE` and `READ_LISTENER_RULES`).

Resources are `{partition}/{region}/{account}` templates, so the same text renders to
CloudFormation (pseudo parameters) and to the finding ids cdk-nag prints for wildcards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.config import EnvironmentConfig

# Actions that AWS does not scope to a resource (Service Authorization Reference).
UNSCOPABLE = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
    }
)
# `autopipe status` reads the listener rules' weights (the traffic split of a blue/green or
# canary deployment). ELBv2's Describe* actions list no resource types, so `*` is the only
# Resource IAM accepts, and no condition key narrows them:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html
READ_LISTENER_RULES = ("elasticloadbalancing:DescribeRules",)


@dataclass(frozen=True)
class Grant:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def grants(config: EnvironmentConfig) -> list[Grant]:
    n = config.names
    arn = "arn:{partition}:%s:{region}:{account}:%s"
    cluster = arn % ("ecs", f"cluster/{n.cluster}")
    roles = tuple(
        f"arn:{{partition}}:iam::{{account}}:role/{r}" for r in (n.execution_role, n.task_role)
    )
    secrets = tuple(
        arn % ("secretsmanager", f"secret:{name}-??????")
        for name in (config.api_keys_secret_name, config.db_secret_name)
    )
    return [
        Grant(
            "PushAndReadImages",
            (
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:DescribeImages",
                "ecr:DescribeRepositories",
                "ecr:DescribeImageScanFindings",
            ),
            (arn % ("ecr", f"repository/{n.repository}"),),
        ),
        Grant("RegistryLoginAndTaskDefinitions", tuple(sorted(UNSCOPABLE)), ("*",)),
        Grant("ReadTheListenerRuleWeights", READ_LISTENER_RULES, ("*",)),
        Grant(
            "RollOutTheService",
            ("ecs:DescribeServices", "ecs:UpdateService"),
            (arn % ("ecs", f"service/{n.cluster}/{n.service}"),),
        ),
        Grant(
            "ListTheServicesDeployments",
            ("ecs:ListServiceDeployments",),
            (arn % ("ecs", f"service/{n.cluster}/{n.service}"),),
        ),
        Grant(
            "WatchAndStopTheServicesDeployments",
            (
                "ecs:DescribeServiceDeployments",
                "ecs:StopServiceDeployment",
                "ecs:ContinueServiceDeployment",  # the blue/green gate (autopipe/strategy.py)
            ),
            (arn % ("ecs", f"service-deployment/{n.cluster}/{n.service}/*"),),
        ),
        Grant(
            "ReadTheServicesRevisions",
            ("ecs:DescribeServiceRevisions",),
            (arn % ("ecs", f"service-revision/{n.cluster}/{n.service}/*"),),
        ),
        Grant(
            "MarkFailedRevisions",
            ("ecs:ListTagsForResource", "ecs:TagResource"),
            (arn % ("ecs", f"task-definition/{n.family}:*"),),
        ),
        Grant("ReadTheCluster", ("ecs:DescribeClusters",), (cluster,)),
        Grant(
            "RunMigrationsOnThisCluster",
            ("ecs:RunTask",),
            (arn % ("ecs", f"task-definition/{n.family}:*"),),
            {"ArnEquals": {"ecs:cluster": cluster}},
        ),
        Grant(
            "WatchMigrationTasks",
            ("ecs:DescribeTasks", "ecs:StopTask"),
            (arn % ("ecs", f"task/{n.cluster}/*"),),
        ),
        Grant(
            "PassOnlyTheTaskRoles",
            ("iam:PassRole",),
            roles,
            {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ),
        Grant("VerifyTheTaskRoles", ("iam:GetRole",), roles),
        Grant("ResolveTheAppSecrets", ("secretsmanager:DescribeSecret",), secrets),
        # The one value it reads: the test listener rule's header, for the pre-traffic smoke test.
        Grant(
            "ReadTheTestTrafficHeader",
            ("secretsmanager:GetSecretValue",),
            (arn % ("secretsmanager", f"secret:{config.test_traffic_secret_name}-??????"),),
        ),
        Grant("FindTheLogGroup", ("logs:DescribeLogGroups",), (arn % ("logs", "log-group:*"),)),
        Grant(
            "ReadMigrationLogs",
            ("logs:GetLogEvents",),
            (arn % ("logs", f"log-group:{n.log_group}:log-stream:*"),),
        ),
        Grant(
            "WatchTheAlarms",
            ("cloudwatch:DescribeAlarms",),
            (arn % ("cloudwatch", f"alarm:{config.prefix}-*"),),
        ),
        Grant(
            "TakeTheDeployLock",
            (
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DescribeTable",
            ),
            (arn % ("dynamodb", f"table/{n.lock_table}"),),
        ),
        Grant(
            "ReadTheStacksSettings",
            ("ssm:GetParameter",),
            (arn % ("ssm", f"parameter{config.service_parameter_prefix}/*"),),
        ),
        Grant(
            "RecordTheRelease",
            (
                "ssm:GetParameter",
                "ssm:GetParameterHistory",
                "ssm:GetParameters",
                "ssm:PutParameter",
            ),
            (arn % ("ssm", f"parameter{config.release_parameter_prefix}/*"),),
        ),
    ]
