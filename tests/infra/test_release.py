"""Infra re-deploys never revert the running image: the task definition's image (and its tag
and git sha) resolve at deploy time from the SSM parameters the deployer writes after each
successful rollout; nothing in any template pins an image."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.conftest import Synth
from tests.infra.test_iam import deploy_role

STACKS = ("AutoPipe-staging", "AutoPipe-production")


@pytest.mark.parametrize("stack", STACKS)
def test_the_image_comes_from_the_release_parameter(synth: Synth, stack: str) -> None:
    env = stack.split("-")[1]
    template = synth.template(stack)
    (container,) = synth.one(stack, "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    parameter = template["Parameters"][container["Image"]["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/auto-pipe/{env}/release/image",
    }
    env_vars = {e["Name"]: e["Value"] for e in container["Environment"]}
    for name, key in (("IMAGE_TAG", "image-tag"), ("GIT_SHA", "git-sha")):
        parameter = template["Parameters"][env_vars[name]["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameter["Default"] == f"/auto-pipe/{env}/release/{key}"


@pytest.mark.parametrize("stack", [*STACKS, "AutoPipe-staging-Bootstrap"])
def test_no_template_pins_an_image_or_owns_the_release_parameters(synth: Synth, stack: str) -> None:
    text = json.dumps(synth.template(stack))
    assert not re.search(r"auto-pipe-api[:@]", text), "an image reference is baked in"
    # A CloudFormation-managed parameter would be written back to its template value on the
    # next stack update: the deployer owns the release parameters, the stack only reads them.
    # The stack's own parameters (for the deployer to read) live under /service.
    names = [
        r["Properties"]["Name"] for r in synth.resources(stack, "AWS::SSM::Parameter").values()
    ]
    assert all(re.fullmatch(r"/auto-pipe/\w+/service/[\w-]+", n) for n in names), names


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_publishes_its_database_address_for_the_deployer(
    synth: Synth, stack: str
) -> None:
    env = stack.split("-")[1]
    published = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in synth.resources(stack, "AWS::SSM::Parameter").values()
    }
    host = published[f"/auto-pipe/{env}/service/db-host"]
    port = published[f"/auto-pipe/{env}/service/db-port"]
    assert host["Fn::GetAtt"][1] == "Endpoint.Address"
    assert port["Fn::GetAtt"][1] == "Endpoint.Port"
    # The same values the stack gives its own task definition: a deploy changes neither.
    (container,) = synth.one(stack, "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    env_vars = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert (env_vars["DB_HOST"], env_vars["DB_PORT"]) == (host, port)


def test_the_deploy_role_may_read_the_stacks_settings_but_not_change_them(synth: Synth) -> None:
    statements = deploy_role(synth, "AutoPipe-staging-Bootstrap")["Policies"][0]["PolicyDocument"]
    (read,) = [s for s in statements["Statement"] if s["Sid"] == "ReadTheStacksSettings"]
    assert read["Action"] == "ssm:GetParameter"
    assert json.dumps(read["Resource"]).endswith('parameter/auto-pipe/staging/service/*"]]}')


def test_the_deploy_role_may_record_the_release(synth: Synth) -> None:

    statements = deploy_role(synth, "AutoPipe-staging-Bootstrap")["Policies"][0]["PolicyDocument"]
    (record,) = [s for s in statements["Statement"] if s["Sid"] == "RecordTheRelease"]
    assert "ssm:PutParameter" in record["Action"]
    assert json.dumps(record["Resource"]).endswith('parameter/auto-pipe/staging/release/*"]]}')
