"""The ECR repository `auto-pipe-api`: immutable tags (a tag names one image forever), scan on
push, KMS encryption, and a lifecycle that drops untagged layers after a day and keeps the
last N tagged images (enough to roll back to)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from constructs import Construct


class ImageRepository(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, keep_tagged: int) -> None:
        super().__init__(scope, id)
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=name,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.KMS,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    rule_priority=1,
                    description="Expire untagged images after 1 day",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=Duration.days(1),
                ),
                ecr.LifecycleRule(
                    rule_priority=2,
                    description=f"Keep the last {keep_tagged} tagged images",
                    tag_status=ecr.TagStatus.TAGGED,
                    tag_pattern_list=["*"],
                    max_image_count=keep_tagged,
                ),
            ],
        )


class RegistryReplication(Construct):
    """Registry-level (one per account and region): send `name` images to another account's
    registry, or accept them from one. Replication keeps digests, so production deploys the
    exact image staging ran."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repository_name: str,
        to_account: str | None,
        from_account: str | None,
    ) -> None:
        super().__init__(scope, id)
        if to_account:
            ecr.CfnReplicationConfiguration(
                self,
                "Replication",
                replication_configuration=ecr.CfnReplicationConfiguration.ReplicationConfigurationProperty(
                    rules=[
                        ecr.CfnReplicationConfiguration.ReplicationRuleProperty(
                            destinations=[
                                ecr.CfnReplicationConfiguration.ReplicationDestinationProperty(
                                    region=Aws.REGION, registry_id=to_account
                                )
                            ],
                            repository_filters=[
                                ecr.CfnReplicationConfiguration.RepositoryFilterProperty(
                                    filter=repository_name, filter_type="PREFIX_MATCH"
                                )
                            ],
                        )
                    ]
                ),
            )
        if from_account:
            ecr.CfnRegistryPolicy(
                self,
                "AcceptReplication",
                policy_text={
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ReplicationFromTheSourceRegistry",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{from_account}:root"},
                            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                            "Resource": f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{Aws.ACCOUNT_ID}"
                            f":repository/{repository_name}",
                        }
                    ],
                },
            )
