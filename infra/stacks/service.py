"""One environment: network, data, the Fargate service behind its load balancer, alarms,
SLOs and the dashboard. It only wires constructs; values come from `infra.config`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs import database as db
from infra.constructs.alarms import ServiceAlarms
from infra.constructs.alerting import Alerting, Severity
from infra.constructs.app_logs import AppLogs
from infra.constructs.app_logs import retention as log_retention
from infra.constructs.app_secrets import API_KEYS_FIELD, ApiKeysSecret
from infra.constructs.dashboard import OperationsDashboard
from infra.constructs.deploy_lock import DeployLockTable
from infra.constructs.encryption import DataKey
from infra.constructs.load_balancer import LoadBalancer
from infra.constructs.log_bucket import LogBucket
from infra.constructs.network import Network
from infra.constructs.release import ReleaseParameters
from infra.constructs.service import FargateApp
from infra.constructs.slo import SloAlarms
from infra.constructs.task_definition import AppTaskDefinition
from infra.constructs.traffic_shift import TrafficShift

DB_NAME = DB_USER = "app"


class ServiceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        template: Mapping[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        c, n = config, config.names
        port = _container_port(template)
        shifts = c.deployment_strategy != "rolling"  # ECS moves traffic: blue/green, canary...
        retention = log_retention(c.log_retention_days)
        db_identifier = f"{c.prefix}-db"
        key = DataKey(
            self,
            "DataKey",
            alias=f"alias/{c.prefix}",
            log_group_names=[
                n.log_group,
                *(db.log_group_name(db_identifier, log) for log in db.EXPORTED_LOGS),
            ],
            alarm_name_prefix=c.alarm_name(""),
        ).key
        log_bucket = LogBucket(self, "LogBucket", expiration_days=c.access_log_days).bucket
        net = Network(
            self,
            "Network",
            cidr=c.vpc_cidr,
            availability_zones=c.availability_zones,
            nat_gateways=c.nat_gateways,
            public_task_subnets=c.public_task_subnets,
            container_port=port,
            flow_log_bucket=log_bucket,
            project=c.project,
        )
        lb = LoadBalancer(
            self,
            "LoadBalancer",
            vpc=net.vpc,
            security_group=net.alb_sg,
            container_port=port,
            access_logs=log_bucket,
            domain_name=c.domain_name,
            certificate_arn=c.certificate_arn,
            hosted_zone_id=c.hosted_zone_id,
            hosted_zone_name=c.hosted_zone_name,
            internal_paths=c.internal_paths,
            deletion_protection=c.load_balancer_deletion_protection,
            alternate=shifts,
        )
        database = db.Database(
            self,
            "Database",
            vpc=net.vpc,
            subnets=net.data_subnets,
            security_group=net.db_sg,
            key=key,
            secret_name=c.db_secret_name,
            database_name=DB_NAME,
            username=DB_USER,
            instance_type=c.db_instance_type,
            storage_gib=c.db_storage_gib,
            max_storage_gib=c.db_max_storage_gib,
            multi_az=c.db_multi_az,
            backup_days=c.db_backup_days,
            deletion_protection=c.deletion_protection,
            identifier=db_identifier,
            log_retention=retention,
            project=c.project,
        )
        api_keys = ApiKeysSecret(self, "ApiKeys", secret_name=c.api_keys_secret_name, key=key)
        lock = DeployLockTable(self, "DeployLock", table_name=n.lock_table)
        app_logs = AppLogs(
            self,
            "AppLogs",
            log_group_name=n.log_group,
            retention=retention,
            key=key,
            service_name=n.service,
            namespace=n.metrics_namespace,
        )
        release = ReleaseParameters(self, "Release", prefix=c.release_parameter_prefix)
        task = AppTaskDefinition(
            self,
            "Task",
            template=template,
            names=n,
            app_env=c.app_env,
            cpu_architecture=c.cpu_architecture,
            image_uri=release.image_uri,
            image_tag=release.image_tag,
            git_sha=release.git_sha,
            repository=ecr.Repository.from_repository_name(self, "Repository", n.repository),
            log_group=app_logs.log_group,
            secrets={
                "API_KEYS": ecs.Secret.from_secrets_manager(api_keys.secret, API_KEYS_FIELD),
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
            },
            environment={
                "DB_HOST": database.host,
                "DB_PORT": database.port,
                "DB_NAME": DB_NAME,
                "DB_USER": DB_USER,
                "LOG_LEVEL": c.app_log_level,
                **db.CLIENT_TLS,
                # The load balancer connects from inside the VPC: only its X-Forwarded-* count.
                "TRUSTED_PROXIES": c.vpc_cidr,
            },
        )
        # What autopipe.toml's `ssm:` values read: the address of this stack's database.
        for setting, value in (("db-host", database.host), ("db-port", database.port)):
            ssm.StringParameter(
                self,
                f"Service-{setting}",
                parameter_name=f"{c.service_parameter_prefix}/{setting}",
                string_value=value,
                description=f"{c.project} {c.name}: {setting}, for the deployer's task definitions",
            )
        alerting = Alerting(
            self,
            "Alerting",
            prefix=c.prefix,
            key=key,
            default_email=c.alarm_email,
            slack_workspace_id=c.slack_workspace_id if c.slack else None,
            slack_channel_id=c.slack_channel_id if c.slack else None,
        )
        alarms = ServiceAlarms(
            self,
            "Alarms",
            name=c.alarm_name,
            alerting=alerting,
            load_balancer=lb.alb,
            target_group=lb.target_group,
            app_logs=app_logs,
            cluster_name=n.cluster,
            service_name=n.service,
            database=database.instance,
            latency_threshold_ms=c.slo.latency_ms,
        )
        app = FargateApp(
            self,
            "App",
            cluster_name=n.cluster,
            service_name=n.service,
            vpc=net.vpc,
            subnets=net.task_subnets,
            assign_public_ip=c.public_task_subnets,
            security_group=net.task_sg,
            task_definition=task.definition,
            target_group=lb.target_group,
            min_tasks=c.min_tasks,
            max_tasks=c.max_tasks,
            cpu_target_percent=c.cpu_target_percent,
            requests_per_target_per_minute=c.requests_per_target_per_minute,
            health_check_grace_seconds=c.health_check_grace_seconds,
            enable_execute_command=c.enable_execute_command,
            deployment_alarm_names=alarms.deployment_alarm_names,
        )
        shift = None
        if shifts and lb.alternate_target_group is not None:
            shift = TrafficShift(
                self,
                "TrafficShift",
                listener=lb.listener,
                primary=lb.target_group,
                alternate=lb.alternate_target_group,
                secret_name=c.test_traffic_secret_name,
            )
            shift.attach(app.service, c)
        for alarm in alarms.deployment_alarms:  # names are plain strings: order them explicitly
            app.service.node.add_dependency(alarm)
        slo = SloAlarms(
            self,
            "Slo",
            name=c.alarm_name,
            slo=c.slo,
            alerting=alerting,
            load_balancer=lb.alb,
            target_group=lb.target_group,
        )
        OperationsDashboard(
            self,
            "Dashboard",
            dashboard_name=c.prefix,
            load_balancer=lb.alb,
            target_group=lb.target_group,
            app_logs=app_logs,
            cluster_name=n.cluster,
            service_name=n.service,
            database=database.instance,
            burn_rates=slo.burn_rates,
            alarms=[*slo.composites.values(), *alarms.alarms.values()],
        )
        outputs = {
            "Url": c.url or f"http://{lb.alb.load_balancer_dns_name}",
            "LoadBalancerDnsName": lb.alb.load_balancer_dns_name,
            "Tls": f"HTTPS on {c.domain_name}, HTTP redirects"
            if c.url
            else "none: plain HTTP on the load balancer's name (staging only; set a domain)",
            "ClusterName": app.cluster.cluster_name,
            "ServiceName": app.service.service_name,
            "TaskFamily": n.family,
            # The revision the stack registered: the service runs it until the first
            # `autopipe deploy` (setup.sh compares the two to know whether that happened).
            "StackTaskDefinitionArn": task.definition.task_definition_arn,
            "ContainerName": n.container,
            "LogGroupName": app_logs.log_group.log_group_name,
            "ExecutionRoleArn": task.execution_role.role_arn,
            "TaskRoleArn": task.task_role.role_arn,
            "DbHost": database.host,
            "DbPort": database.port,
            "DbSecretArn": database.secret.secret_arn,
            "ApiKeysSecretArn": api_keys.secret.secret_arn,
            "LockTableName": lock.table.table_name,
            "ReleaseParameterPrefix": c.release_parameter_prefix,
            "ServiceParameterPrefix": c.service_parameter_prefix,
            "DeploymentAlarms": ",".join(alarms.deployment_alarm_names),
            "PageTopicArn": alerting.topics[Severity.PAGE].topic_arn,
            "TicketTopicArn": alerting.topics[Severity.TICKET].topic_arn,
        }
        if shift is not None:
            outputs["TestTrafficSecretName"] = c.test_traffic_secret_name
            outputs["AlternateTargetGroupArn"] = shift.alternate.target_group_arn
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


def _container_port(template: Mapping[str, Any]) -> int:
    mappings = template["containerDefinitions"][0].get("portMappings", [])
    return int(mappings[0]["containerPort"])
