"""Two SNS topics, one per severity the seed's alert levels name:
- page: act now (an SLO burns its error budget fast, no healthy target);
- ticket: act within days (slow burn, resource pressure, a failed rollout's alarms).
Encrypted with the environment's key, TLS-only; each gets an email subscription when the
stack's email parameter is set (empty = none, e.g. a chat integration subscribes instead)."""

from __future__ import annotations

from enum import Enum

from aws_cdk import CfnCondition, CfnParameter, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Severity(Enum):
    PAGE = "page"
    TICKET = "ticket"


class Alerting(Construct):
    def __init__(
        self, scope: Construct, id: str, *, prefix: str, key: kms.IKey, default_email: str
    ) -> None:
        super().__init__(scope, id)
        self.topics: dict[Severity, sns.Topic] = {}
        for severity in Severity:
            label = severity.value.capitalize()
            topic = sns.Topic(
                self,
                f"{label}Topic",
                topic_name=f"{prefix}-{severity.value}",
                display_name=f"{prefix} {severity.value}",
                master_key=key,
                enforce_ssl=True,
            )
            email = CfnParameter(
                self,
                f"{label}Email",
                type="String",
                default=default_email,
                allowed_pattern=EMAIL_PATTERN,
                description=f"Email subscribed to the {severity.value} alarms (empty: none)",
            )
            email.override_logical_id(f"{label}Email")  # `--parameters PageEmail=...`
            condition = CfnCondition(
                self,
                f"Has{label}Email",
                expression=Fn.condition_not(Fn.condition_equals(email.value_as_string, "")),
            )
            subscription = sns.CfnSubscription(
                self,
                f"{label}Subscription",
                topic_arn=topic.topic_arn,
                protocol="email",
                endpoint=email.value_as_string,
            )
            subscription.cfn_options.condition = condition
            self.topics[severity] = topic

    def route(self, alarm: cloudwatch.AlarmBase, severity: Severity) -> None:
        """Alarm and recovery both notify the severity's topic."""
        action = actions.SnsAction(self.topics[severity])
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
