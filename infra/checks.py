"""Written-down exceptions to the checkers, next to the resource they concern.

- cdk-nag findings are acknowledged through CDK's `Validations` (they apply to the construct
  and everything under it);
- checkov reads `Metadata.checkov.skip` on the CloudFormation resource;
- cfn-lint reads `Metadata.cfn-lint.config.ignore_checks`.

Every call carries its reason; tests/infra fails on any finding that is not written here.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

NAG_PACK = "AwsSolutions"
CFN_LINT_REASONS = "infra:cfn-lint-reasons"  # a metadata key of this repository's checks


def acknowledge(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """cdk-nag: `{"AwsSolutions-IAM5[Resource::*]": "why"}` (ids as cdk-nag prints them)."""
    for rule, reason in reasons.items():
        rule_id = f"{NAG_PACK}::{rule}"
        Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def skip_checkov(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """checkov: `{"CKV_AWS_18": "why"}` on the construct's CloudFormation resource."""
    resource = _cfn(construct)
    current = resource.get_metadata("checkov") or {}
    skips = [*current.get("skip", []), *({"id": k, "comment": v} for k, v in reasons.items())]
    resource.add_metadata("checkov", {"skip": skips})


def ignore_cfn_lint(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """cfn-lint: `{"W3010": "why"}`. cfn-lint's metadata has no reason field, so the reasons
    sit beside it under CFN_LINT_REASONS (where `make infra-check` reads them)."""
    resource = _cfn(construct)
    current = resource.get_metadata("cfn-lint") or {}
    ignored = [*current.get("config", {}).get("ignore_checks", []), *reasons]
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ignored}})
    resource.add_metadata(
        CFN_LINT_REASONS, {**(resource.get_metadata(CFN_LINT_REASONS) or {}), **reasons}
    )


def _cfn(construct: IConstruct) -> CfnResource:
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return child
