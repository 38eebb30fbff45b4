"""SLOs at the load balancer, alerted on multi-window burn rates (Google SRE workbook, ch. 5).

SLIs (per request, at the ALB):
- availability: not a 5xx (target or load balancer generated) / all requests;
- latency: target response time <= the threshold / requests that reached a target.
Burn rate = observed bad fraction / allowed bad fraction (1 - SLO). Burning at 1 spends the
30-day budget in exactly 30 days; 14.4 spends 2 % of it in 1 hour.

Each alarm needs both windows over the rate: the long one proves the burn is significant, the
short one that it is still happening (so the alarm clears soon after a fix). One metric alarm per
window (period = window), combined by composite alarms routed to page / ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import Slo
from infra.constructs.alerting import Alerting, Severity


@dataclass(frozen=True)
class BurnWindow:
    long: Duration
    short: Duration
    rate: float
    severity: Severity


# (long, short, burn rate): budget spent when it fires = rate * long / 30 days.
WINDOWS = (
    BurnWindow(Duration.hours(1), Duration.minutes(5), 14.4, Severity.PAGE),  # 2 % in 1 h
    BurnWindow(Duration.hours(6), Duration.minutes(30), 6, Severity.PAGE),  # 5 % in 6 h
    BurnWindow(Duration.days(1), Duration.hours(2), 3, Severity.TICKET),  # 10 % in 1 d
)


class SloAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: Callable[[str], str],
        slo: Slo,
        alerting: Alerting,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
    ) -> None:
        super().__init__(scope, id)
        self._name = name
        lb, tg = load_balancer.metrics, target_group.metrics
        threshold_s = slo.latency_ms / 1000

        # Metric ids carry the window: a graph may show several windows side by side.
        def availability(period: Duration) -> cloudwatch.MathExpression:
            w = _label(period)
            return cloudwatch.MathExpression(
                expression=(
                    f"IF(req{w} > 0, (FILL(t5{w}, 0) + FILL(e5{w}, 0)) / req{w}, 0) "
                    f"/ {_budget(slo.availability)}"
                ),
                using_metrics={
                    f"req{w}": lb.request_count(period=period),
                    f"t5{w}": lb.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period
                    ),
                    f"e5{w}": lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period),
                },
                label="availability burn rate",
                period=period,
            )

        def latency(period: Duration) -> cloudwatch.MathExpression:
            # PR(:t) is the percentage of requests at or under t seconds (percentile rank).
            w = _label(period)
            return cloudwatch.MathExpression(
                expression=f"(100 - FILL(fast{w}, 100)) / 100 / {_budget(slo.latency)}",
                using_metrics={
                    f"fast{w}": tg.target_response_time(
                        statistic=f"PR(:{threshold_s})", period=period
                    )
                },
                label="latency burn rate",
                period=period,
            )

        self.burn_rates = {"availability": availability, "latency": latency}
        self.composites: dict[str, cloudwatch.CompositeAlarm] = {}
        for sli, burn in self.burn_rates.items():
            for severity in Severity:
                rules = [
                    cloudwatch.AlarmRule.all_of(
                        self._window(sli, burn, w.long, w.rate),
                        self._window(sli, burn, w.short, w.rate),
                    )
                    for w in WINDOWS
                    if w.severity is severity
                ]
                composite = cloudwatch.CompositeAlarm(
                    self,
                    f"{sli}-{severity.value}",
                    composite_alarm_name=name(f"slo-{sli}-{severity.value}"),
                    alarm_description=f"[{severity.value}] the {sli} SLO burns its error budget "
                    "too fast (multi-window burn rate)",
                    alarm_rule=cloudwatch.AlarmRule.any_of(*rules),
                )
                alerting.route(composite, severity)
                self.composites[f"{sli}-{severity.value}"] = composite

    def _window(
        self,
        sli: str,
        burn: Callable[[Duration], cloudwatch.MathExpression],
        window: Duration,
        rate: float,
    ) -> cloudwatch.Alarm:
        """One alarm per (SLI, window, rate); the composites only read their state."""
        short = f"slo-{sli}-burn-{_label(window)}-x{rate:g}"
        existing = self.node.try_find_child(short)
        if isinstance(existing, cloudwatch.Alarm):
            return existing
        return cloudwatch.Alarm(
            self,
            short,
            alarm_name=self._name(short),
            alarm_description=f"{sli} burn rate over {_label(window)} >= {rate:g} "
            "(no action: the SLO composite alarms notify)",
            metric=burn(window),
            threshold=rate,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


def _budget(target: float) -> str:
    return f"{1 - target:.6g}"


def _label(window: Duration) -> str:
    minutes = int(window.to_minutes())
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
