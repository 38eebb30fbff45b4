"""The deployer's lock table (autopipe/lock.py): partition key `lock_id` (S); `expires_at`
(epoch seconds) is the TTL attribute, so an abandoned lock disappears on its own."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.checks import skip_checkov

PARTITION_KEY = "lock_id"
TTL_ATTRIBUTE = "expires_at"


class DeployLockTable(Construct):
    def __init__(self, scope: Construct, id: str, *, table_name: str) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=table_name,
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=False,
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checkov(
            self.table,
            {
                "CKV_AWS_119": "The AWS-managed key: lock items hold a name and an expiry, and the "
                "deploy role (another stack) needs no grant on this stack's customer key."
            },
        )
