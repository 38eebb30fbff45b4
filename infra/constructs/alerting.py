"""Two SNS topics, one per severity the seed's alert levels name:
- page: act now (an SLO burns its error budget fast, no healthy target);
- ticket: act within days (slow burn, resource pressure, a failed rollout's alarms).
Encrypted with the environment's key, TLS-only; each gets an email subscription when the
stack's email parameter is set (empty = none). With a Slack workspace and channel configured,
both topics also post to that channel through AWS Chatbot (Amazon Q Developer in chat
applications); email stays. The channel can only read: its role and its guardrail allow
CloudWatch reads (what renders an alarm's graph), nothing else, so no one in the channel can
change the account through it:
https://docs.aws.amazon.com/chatbot/latest/adminguide/chatbot-iam-policies.html"""

from __future__ import annotations

from enum import Enum

from aws_cdk import CfnCondition, CfnParameter, Fn
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.checks import acknowledge

EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"
# The "Notification permissions" of the Chatbot documentation: read alarms and metrics.
CHANNEL_READ_ACTIONS = ("cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*")


class Severity(Enum):
    PAGE = "page"
    TICKET = "ticket"


class Alerting(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        key: kms.IKey,
        default_email: str,
        slack_workspace_id: str | None = None,
        slack_channel_id: str | None = None,
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
        self.slack: chatbot.SlackChannelConfiguration | None = None
        if slack_workspace_id and slack_channel_id:
            self.slack = self._slack(prefix, slack_workspace_id, slack_channel_id)

    def _slack(
        self, prefix: str, workspace: str, channel: str
    ) -> chatbot.SlackChannelConfiguration:
        read_only = iam.PolicyDocument(
            statements=[iam.PolicyStatement(actions=list(CHANNEL_READ_ACTIONS), resources=["*"])]
        )
        guardrail = iam.ManagedPolicy(
            self,
            "SlackGuardrail",
            description=f"{prefix}: the most anyone in the alarms channel may do (read alarms)",
            document=read_only,
        )
        role = iam.Role(
            self,
            "SlackChannelRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description=f"{prefix}: AWS Chatbot renders alarm notifications",
            inline_policies={"ReadAlarms": read_only},
        )
        reason = (
            "CloudWatch's Describe/Get/List, to render an alarm's graph: metric reads have no "
            "resource-level permissions."
        )
        findings = [f"AwsSolutions-IAM5[Action::{a}]" for a in CHANNEL_READ_ACTIONS]
        for construct in (guardrail, role):
            acknowledge(
                construct, dict.fromkeys([*findings, "AwsSolutions-IAM5[Resource::*]"], reason)
            )
        return chatbot.SlackChannelConfiguration(
            self,
            "Slack",
            slack_channel_configuration_name=f"{prefix}-alarms",
            slack_workspace_id=workspace,
            slack_channel_id=channel,
            notification_topics=list(self.topics.values()),
            role=role,
            guardrail_policies=[guardrail],
            logging_level=chatbot.LoggingLevel.ERROR,
            user_role_required=False,
        )

    def route(self, alarm: cloudwatch.AlarmBase, severity: Severity) -> None:
        """Alarm and recovery both notify the severity's topic."""
        action = actions.SnsAction(self.topics[severity])
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
