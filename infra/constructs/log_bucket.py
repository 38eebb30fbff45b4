"""The bucket the ALB access logs and the VPC flow logs are delivered to: private, TLS-only,
encrypted (SSE-S3: the only encryption ALB log delivery supports), expiring."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.checks import acknowledge, skip_checkov


class LogBucket(Construct):
    def __init__(self, scope: Construct, id: str, *, expiration_days: int) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-logs",
                    expiration=Duration.days(expiration_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.bucket,
            {"AwsSolutions-S1": "This is the log bucket; logging its own access would loop."},
        )
        skip_checkov(
            self.bucket,
            {
                "CKV_AWS_18": "This is the log bucket; logging its own access would loop.",
                "CKV_AWS_145": "ALB access log delivery supports only SSE-S3, not SSE-KMS.",
                "CKV2_AWS_62": "Nothing consumes events from log objects.",
            },
        )
