"""One CloudWatch dashboard per environment: the SLOs on top, then RED (rate, errors,
duration) at the load balancer and in the app (EMF), then USE (utilization, saturation,
errors) for the tasks, the load balancer and the database."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.constructs.app_logs import ERRORS, LATENCY, REQUESTS, AppLogs

MINUTE = Duration.minutes(1)
W = 8  # widget width: three per row


class OperationsDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dashboard_name: str,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        app_logs: AppLogs,
        cluster_name: str,
        service_name: str,
        database: rds.DatabaseInstance,
        burn_rates: Mapping[str, Callable[[Duration], cloudwatch.IMetric]],
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, id)
        lb, tg = load_balancer.metrics, target_group.metrics
        ecs_dims = {"ClusterName": cluster_name, "ServiceName": service_name}

        def ecs(metric: str, statistic: str, namespace: str = "AWS/ECS") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=metric,
                dimensions_map=ecs_dims,
                statistic=statistic,
                period=MINUTE,
            )

        def graph(title: str, *left: cloudwatch.IMetric, unit: str = "") -> cloudwatch.GraphWidget:
            axis = cloudwatch.YAxisProps(label=unit, show_units=False) if unit else None
            return cloudwatch.GraphWidget(title=title, left=list(left), left_y_axis=axis, width=W)

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3)
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="## SLOs (burn rate: 1 = budget lasts 30 days)", width=24, height=1
            ),
        )
        self.dashboard.add_widgets(
            *(
                graph(f"{sli} burn rate", burn(Duration.hours(1)), burn(Duration.days(1)))
                for sli, burn in burn_rates.items()
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=W),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(markdown="## RED: rate, errors, duration", width=24, height=1)
        )
        self.dashboard.add_widgets(
            graph(
                "Requests / min",
                lb.request_count(period=MINUTE),
                app_logs.metric(REQUESTS, statistic="Sum", period=MINUTE),
            ),
            graph(
                "5xx / min",
                lb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=MINUTE),
                lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=MINUTE),
                app_logs.metric(ERRORS, statistic="Sum", period=MINUTE),
            ),
            graph(
                "Target latency (s)",
                *(
                    tg.target_response_time(statistic=s, period=MINUTE)
                    for s in ("p50", "p90", "p99")
                ),
                unit="seconds",
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "App latency (ms, EMF)",
                *(app_logs.metric(LATENCY, statistic=s, period=MINUTE) for s in ("p50", "p99")),
                unit="ms",
            ),
            graph(
                "Targets",
                tg.healthy_host_count(period=MINUTE),
                tg.unhealthy_host_count(period=MINUTE),
            ),
            graph(
                "Running tasks",
                ecs("RunningTaskCount", "Average", "ECS/ContainerInsights"),
                ecs("DesiredTaskCount", "Average", "ECS/ContainerInsights"),
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="## USE: utilization, saturation, errors", width=24, height=1
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Task CPU / memory (%)",
                ecs("CPUUtilization", "Average"),
                ecs("MemoryUtilization", "Average"),
                ecs("CPUUtilization", "Maximum"),
                ecs("MemoryUtilization", "Maximum"),
                unit="%",
            ),
            graph(
                "Load balancer connections",
                lb.active_connection_count(period=MINUTE),
                lb.rejected_connection_count(period=MINUTE),
                lb.target_connection_error_count(period=MINUTE),
            ),
            graph(
                "Database CPU (%) / connections",
                database.metric_cpu_utilization(),
                database.metric_database_connections(),
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Database memory / storage (bytes)",
                database.metric_freeable_memory(),
                database.metric_free_storage_space(),
            ),
            graph(
                "Database latency (s)",
                database.metric("ReadLatency"),
                database.metric("WriteLatency"),
            ),
        )
