"""The app's log group and the metrics it carries.

The service writes JSON logs to stdout (awslogs driver -> `/ecs/auto-pipe-app`). Its RED
metrics arrive as CloudWatch embedded metric format (EMF) records in the same stream, so no
agent or API call is needed. The contract the app must keep (docs/infrastructure.md):

    namespace  the project's (`metrics_namespace`, autopipe/names.py; METRICS_NAMESPACE in the task)
    metrics    RequestCount (Count), ErrorCount (Count, 5xx only), Latency (Milliseconds)
    dimension sets  [Service] and [Service, Route]   Service = the ECS service name
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.errors import ConfigError

REQUESTS, ERRORS, LATENCY = "RequestCount", "ErrorCount", "Latency"


RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    if days not in RETENTION:
        raise ConfigError(f"log retention: one of {sorted(RETENTION)} days, not {days}")
    return RETENTION[days]


class AppLogs(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        log_group_name: str,
        retention: logs.RetentionDays,
        key: kms.IKey,
        service_name: str,
        namespace: str,
    ) -> None:
        super().__init__(scope, id)
        self.service_name = service_name
        self.namespace = namespace
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def metric(self, name: str, *, statistic: str, period: Duration) -> cloudwatch.Metric:
        """An EMF metric aggregated over all routes (the `[Service]` dimension set)."""
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=name,
            dimensions_map={"Service": self.service_name},
            statistic=statistic,
            period=period,
        )
