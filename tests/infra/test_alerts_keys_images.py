"""Alarms reach Slack (optional, email stays); the data key's service statements are bound to
this account; production gets the image staging built by default."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from infra import config
from infra.errors import ConfigError
from tests.infra.cfn import as_list, resolve
from tests.infra.conftest import SLACK, Synth

CHATBOT = "AWS::Chatbot::SlackChannelConfiguration"


def _by_ref(synth: Synth, stack: str, ref: Any) -> dict[str, Any]:
    resource: dict[str, Any] = synth.template(stack)["Resources"][ref["Ref"]]
    return resource


def test_slack_receives_both_alarm_topics_through_a_read_only_channel(synth: Synth) -> None:
    channel = synth.one("AutoPipe-cheap", CHATBOT)
    assert channel["SlackWorkspaceId"] == SLACK["slack_workspace_id"]
    assert channel["SlackChannelId"] == SLACK["slack_channel_id"]
    topics = {
        _by_ref(synth, "AutoPipe-cheap", t)["Properties"]["TopicName"]
        for t in channel["SnsTopicArns"]
    }
    assert topics == {"auto-pipe-cheap-page", "auto-pipe-cheap-ticket"}
    # Without guardrails Chatbot applies AdministratorAccess: the channel's ceiling must be
    # given, and be reads only; its role reads only as well.
    (guardrail_ref,) = channel["GuardrailPolicies"]
    guardrail = _by_ref(synth, "AutoPipe-cheap", guardrail_ref)
    assert guardrail["Type"] == "AWS::IAM::ManagedPolicy"
    role_id = channel["IamRoleArn"]["Fn::GetAtt"][0]
    role = synth.template("AutoPipe-cheap")["Resources"][role_id]["Properties"]
    documents = [guardrail["Properties"]["PolicyDocument"], role["Policies"][0]["PolicyDocument"]]
    actions = {a for d in documents for s in d["Statement"] for a in as_list(s["Action"])}
    assert actions == {"cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"}
    assert channel["UserRoleRequired"] is False
    # Email stays alongside.
    assert len(synth.resources("AutoPipe-cheap", "AWS::SNS::Subscription")) == 2


@pytest.mark.parametrize("stack", ["AutoPipe-staging", "AutoPipe-production"])
def test_no_slack_channel_unless_configured(synth: Synth, stack: str) -> None:
    assert not synth.resources(stack, CHATBOT)


def test_slack_needs_both_ids() -> None:
    with pytest.raises(ConfigError, match="both slack_workspace_id"):
        dataclasses.replace(config.STAGING, slack_workspace_id="T0")


@pytest.mark.parametrize("stack", ["AutoPipe-staging", "AutoPipe-production", "AutoPipe-cheap"])
def test_the_data_keys_service_statements_are_bound_to_this_account(
    synth: Synth, stack: str
) -> None:
    (key,) = synth.resources(stack, "AWS::KMS::Key").values()
    services = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]
    ]
    assert len(services) == 2
    for statement in services:
        conditions = resolve(statement["Condition"])
        principal = resolve(statement["Principal"]["Service"])
        if principal.startswith("logs."):
            # CloudWatch Logs' documented restriction: the log group ARNs, in this account.
            arns = conditions["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
            assert all(a.startswith("arn:aws:logs:eu-west-1:123456789012:log-group:") for a in arns)
        else:
            assert principal == "cloudwatch.amazonaws.com"
            env = stack.removeprefix("AutoPipe-")
            alarms = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:auto-pipe-{env}-*"
            assert conditions == {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": alarms},
            }


def test_two_accounts_turn_replication_on_both_ways() -> None:
    staging = dataclasses.replace(config.STAGING, account="111111111111")
    production = dataclasses.replace(
        config.PRODUCTION, account="222222222222", certificate_arn="arn:x", domain_name="a.b.c"
    )
    linked_staging, linked_production = config.link([staging, production])
    assert linked_staging.ecr_replicate_to_account == "222222222222"
    assert linked_production.ecr_replicate_from_account == "111111111111"
    # One shared account: the same repository, nothing to replicate.
    same = dataclasses.replace(production, account="111111111111")
    assert config.link([staging, same]) == [staging, same]


@pytest.mark.parametrize(
    ("staging_account", "production_account"),
    [(None, "222222222222"), ("111111111111", None), (None, None)],
)
def test_production_that_cannot_reach_the_image_is_refused(
    staging_account: str | None, production_account: str | None
) -> None:
    staging = dataclasses.replace(config.STAGING, account=staging_account)
    production = dataclasses.replace(
        config.PRODUCTION,
        account=production_account,
        certificate_arn="arn:x",
        domain_name="a.b.c",
    )
    with pytest.raises(ConfigError, match="cannot pull the image") as caught:
        config.link([staging, production])
    assert "set staging:account and production:account" in str(caught.value)


def test_the_example_replicates_staging_images_to_production(synth: Synth) -> None:
    (rule,) = synth.one("AutoPipe-staging-Bootstrap", "AWS::ECR::ReplicationConfiguration")[
        "ReplicationConfiguration"
    ]["Rules"]
    assert [d["RegistryId"] for d in rule["Destinations"]] == ["222222222222"]
    (statement,) = synth.one("AutoPipe-production-Bootstrap", "AWS::ECR::RegistryPolicy")[
        "PolicyText"
    ]["Statement"]
    assert resolve(statement["Principal"]["AWS"]) == "arn:aws:iam::111111111111:root"
