"""RDS PostgreSQL: private (isolated subnets, reachable from the tasks' security group only),
encrypted with the environment's key, TLS enforced, automated backups, credentials generated
into Secrets Manager (the task gets the `password` key as DB_PASSWORD)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.checks import acknowledge, skip_checkov
from infra.postgres_version import POSTGRES_MAJOR, POSTGRES_VERSION

EXPORTED_LOGS = ("postgresql", "upgrade")
# The service's side of TLS: libpq's variables, which asyncpg honours for every connection.
# verify-full checks the chain against the RDS bundle in the image (docker/rds/) and the host
# name; the parameter group's rds.force_ssl refuses any connection without TLS.
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html
RDS_CA_BUNDLE = "/app/certs/rds-global-bundle.pem"
CLIENT_TLS = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": RDS_CA_BUNDLE}
ENGINE = rds.DatabaseInstanceEngine.postgres(
    version=rds.PostgresEngineVersion.of(POSTGRES_VERSION, str(POSTGRES_MAJOR))
)


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        secret_name: str,
        database_name: str,
        username: str,
        instance_type: str,
        storage_gib: int,
        max_storage_gib: int,
        multi_az: bool,
        backup_days: int,
        deletion_protection: bool,
        identifier: str,
        log_retention: logs.RetentionDays,
        project: str,
    ) -> None:
        super().__init__(scope, id)
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            description=f"{project}: TLS only, slow statements logged",
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "500"},
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=ENGINE,
            instance_identifier=identifier,
            instance_type=ec2.InstanceType(instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            publicly_accessible=False,
            database_name=database_name,
            credentials=rds.Credentials.from_generated_secret(
                username, secret_name=secret_name, encryption_key=key
            ),
            parameter_group=parameters,
            storage_encrypted=True,
            storage_encryption_key=key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=storage_gib,
            max_allocated_storage=max_storage_gib,
            multi_az=multi_az,
            backup_retention=Duration.days(backup_days),
            copy_tags_to_snapshot=True,
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            monitoring_interval=Duration.seconds(60),
            cloudwatch_logs_exports=list(EXPORTED_LOGS),
        )
        # RDS creates its log groups without expiry; creating them first sets the retention
        # and the encryption without a Lambda-backed custom resource.
        for log in EXPORTED_LOGS:
            group = logs.LogGroup(
                self,
                f"{log.capitalize()}Logs",
                log_group_name=log_group_name(identifier, log),
                retention=log_retention,
                encryption_key=key,
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.instance.node.add_dependency(group)
        if self.instance.secret is None:  # from_generated_secret always makes one
            raise RuntimeError("the database has no generated secret")
        self.secret: secretsmanager.ISecret = self.instance.secret
        if deletion_protection:  # the final snapshot is useless without its password
            generated = self.instance.node.find_child("Secret")
            if not isinstance(generated, secretsmanager.Secret):
                raise TypeError("expected the generated database secret")
            generated.apply_removal_policy(RemovalPolicy.RETAIN)
        acknowledge(
            self.instance,
            {
                "AwsSolutions-RDS11": "The default port is kept: the database is reachable from "
                "the tasks' security group only, a different port adds no protection.",
                "AwsSolutions-SMG4": "Not rotated automatically: tasks read DB_PASSWORD at start, "
                "so a rotation breaks running tasks until they are replaced. "
                "docs/infrastructure.md has the rotate-and-redeploy procedure.",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]": "The enhanced-monitoring role: AWS maintains "
                "this policy for exactly this purpose (publish OS metrics to CloudWatch Logs).",
            },
        )
        if not multi_az:
            reason = (
                "Single-AZ outside production, to halve the cost; production is Multi-AZ "
                "(enforced by infra/config.py)."
            )
            acknowledge(self.instance, {"AwsSolutions-RDS3": reason})
            skip_checkov(self.instance, {"CKV_AWS_157": reason})
        if not deletion_protection:
            acknowledge(
                self.instance,
                {
                    "AwsSolutions-RDS10": "Deletion protection is on in production (enforced by "
                    "infra/config.py); staging is torn down freely, with a final snapshot."
                },
            )

    @property
    def host(self) -> str:
        return self.instance.db_instance_endpoint_address

    @property
    def port(self) -> str:
        return self.instance.db_instance_endpoint_port


def log_group_name(identifier: str, log: str) -> str:
    return f"/aws/rds/instance/{identifier}/{log}"
