"""What the deployer last shipped, read from SSM at every CloudFormation deploy.

`autopipe deploy` writes these after a successful rollout; the stack resolves them through
`AWS::SSM::Parameter::Value<String>` parameters, so an infrastructure deploy registers the
image that is running now and never reverts it to one baked into the template. They are not
CloudFormation resources on purpose: a stack update would write the template's value back.
"""

from __future__ import annotations

from aws_cdk import aws_ssm as ssm
from constructs import Construct

IMAGE, IMAGE_TAG, GIT_SHA = "image", "image-tag", "git-sha"


def parameter_names(prefix: str) -> dict[str, str]:
    return {key: f"{prefix}/{key}" for key in (IMAGE, IMAGE_TAG, GIT_SHA)}


class ReleaseParameters(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str) -> None:
        super().__init__(scope, id)
        self.names = parameter_names(prefix)
        values = {
            key: ssm.StringParameter.value_for_string_parameter(self, name)
            for key, name in self.names.items()
        }
        self.image_uri = values[IMAGE]
        self.image_tag = values[IMAGE_TAG]
        self.git_sha = values[GIT_SHA]
