"""Deployment alarms as ECS reads them: the state of each named CloudWatch alarm, straight from
moto's CloudWatch (same process), so a test's SetAlarmState is what the next read sees.

https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html
"""

from __future__ import annotations

from ecs_model.constants import ACCOUNT


def in_alarm(region: str, names: list[str]) -> list[str]:
    """The names, among `names`, of alarms in the ALARM state (metric and composite alarms;
    a name CloudWatch does not know is not in alarm)."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415 - optional

    backend = cloudwatch_backends[ACCOUNT][region]
    red = []
    for name in names:
        alarm = backend.alarms.get(name)
        if alarm is not None and alarm.state_value == "ALARM":
            red.append(name)
    return red
