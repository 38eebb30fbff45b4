"""Threshold alarms on the load balancer, the service, the app's own RED metrics (EMF) and the
database. Each carries a severity (page / ticket) and notifies that topic. The ones named in
`DEPLOYMENT_ALARMS` are also the ECS service's deployment alarms (a rollout that turns them
red is rolled back) and `autopipe.toml`'s `alarms` (the deployer watches the same ones).

Alarm names are `auto-pipe-<env>-<short>`: fixed strings, so the service can reference them
without a dependency cycle, and the deployer can find them by name."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.constructs.alerting import Alerting, Severity
from infra.constructs.app_logs import ERRORS, LATENCY, REQUESTS, AppLogs

DEPLOYMENT_ALARMS = ("5xx", "latency-p99", "app-errors")
MINUTE = Duration.minutes(1)
NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING


class ServiceAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: Callable[[str], str],
        alerting: Alerting,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        app_logs: AppLogs,
        cluster_name: str,
        service_name: str,
        database: rds.DatabaseInstance,
        latency_threshold_ms: int,
    ) -> None:
        super().__init__(scope, id)
        self._name, self._alerting = name, alerting
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        lb, tg = load_balancer.metrics, target_group.metrics
        self._add(
            "5xx",
            Severity.TICKET,
            "5xx responses (target + load balancer) above 5 % of requests",
            cloudwatch.MathExpression(
                expression="IF(req > 0, 100 * (FILL(t5, 0) + FILL(e5, 0)) / req, 0)",
                using_metrics={
                    "req": lb.request_count(period=MINUTE),
                    "t5": lb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=MINUTE),
                    "e5": lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=MINUTE),
                },
                label="5xx %",
                period=MINUTE,
            ),
            threshold=5,
            periods=3,
            datapoints=2,
        )
        self._add(
            "latency-p99",
            Severity.TICKET,
            f"target p99 latency above {latency_threshold_ms} ms",
            # The load balancer's figure, not one target group's: during a blue/green or
            # canary bake the new tasks sit in the alternate group, and a deployment alarm
            # must see them (deployment-alarm-failure.html: ECS rolls back on these alarms).
            lb.target_response_time(statistic="p99", period=MINUTE),
            threshold=latency_threshold_ms / 1000,
            periods=5,
            datapoints=4,
        )
        self._add(
            "app-errors",
            Severity.TICKET,
            "app-reported 5xx (EMF ErrorCount) above 5 % of requests",
            cloudwatch.MathExpression(
                expression="IF(req > 0, 100 * FILL(err, 0) / req, 0)",
                using_metrics={
                    "req": app_logs.metric(REQUESTS, statistic="Sum", period=MINUTE),
                    "err": app_logs.metric(ERRORS, statistic="Sum", period=MINUTE),
                },
                label="app 5xx %",
                period=MINUTE,
            ),
            threshold=5,
            periods=3,
            datapoints=2,
        )
        self._add(
            "app-latency-p99",
            Severity.TICKET,
            f"app-reported p99 latency (EMF Latency) above {latency_threshold_ms} ms",
            app_logs.metric(LATENCY, statistic="p99", period=MINUTE),
            threshold=latency_threshold_ms,
            periods=5,
            datapoints=4,
        )
        self._add(
            "unhealthy-hosts",
            Severity.TICKET,
            "a target failed its /ready health check",
            tg.unhealthy_host_count(statistic="Maximum", period=MINUTE),
            threshold=1,
            periods=5,
            datapoints=5,
        )
        self._add(
            "no-healthy-hosts",
            Severity.PAGE,
            "no healthy target: the service is down",
            tg.healthy_host_count(statistic="Minimum", period=MINUTE),
            threshold=1,
            periods=2,
            datapoints=2,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        ecs_dims = {"ClusterName": cluster_name, "ServiceName": service_name}
        for short, metric in (("cpu-high", "CPUUtilization"), ("memory-high", "MemoryUtilization")):
            self._add(
                short,
                Severity.TICKET,
                f"service {metric} above 85 % for 15 minutes",
                cloudwatch.Metric(
                    namespace="AWS/ECS",
                    metric_name=metric,
                    dimensions_map=ecs_dims,
                    statistic="Average",
                    period=Duration.minutes(5),
                ),
                threshold=85,
                periods=3,
                datapoints=3,
            )
        self._add(
            "db-storage-low",
            Severity.TICKET,
            "database free storage below 2 GiB",
            database.metric_free_storage_space(period=Duration.minutes(5)),
            threshold=2 * 1024**3,
            periods=3,
            datapoints=3,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        )

    @property
    def deployment_alarm_names(self) -> list[str]:
        return [self._name(short) for short in DEPLOYMENT_ALARMS]

    @property
    def deployment_alarms(self) -> list[cloudwatch.Alarm]:
        return [self.alarms[short] for short in DEPLOYMENT_ALARMS]

    def _add(
        self,
        short: str,
        severity: Severity,
        summary: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        periods: int,
        datapoints: int,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        missing: cloudwatch.TreatMissingData = NOT_BREACHING,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            short,
            alarm_name=self._name(short),
            alarm_description=f"[{severity.value}] {summary}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        self._alerting.route(alarm, severity)
        self.alarms[short] = alarm
