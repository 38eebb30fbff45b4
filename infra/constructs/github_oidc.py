"""GitHub Actions -> AWS without stored keys: the account's OIDC provider for
`token.actions.githubusercontent.com` and the deploy role it may assume.

The trust policy pins the issuer, the audience (`sts.amazonaws.com`) and the subject: one
repository's jobs that run in one GitHub environment (`repo:OWNER/REPO:environment:NAME`), so a
fork, another branch's job outside the environment, or another repository cannot assume it."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.checks import acknowledge
from infra.constructs.deploy_policy import Grant

ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
PSEUDO = {"partition": Aws.PARTITION, "region": Aws.REGION, "account": Aws.ACCOUNT_ID}
NAG_PSEUDO = {
    "partition": "<AWS::Partition>",
    "region": "<AWS::Region>",
    "account": "<AWS::AccountId>",
}


class GithubOidcProvider(Construct):
    """Creates the provider, or (`create=False`) uses the one the account already has: an
    account holds one provider per issuer URL, so this keeps the bootstrap idempotent."""

    def __init__(self, scope: Construct, id: str, *, create: bool) -> None:
        super().__init__(scope, id)
        self.provider: iam.IOidcProvider
        if create:
            self.provider = iam.OidcProviderNative(
                self, "Provider", url=f"https://{ISSUER}", client_ids=[AUDIENCE]
            )
        else:
            self.provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self,
                "Provider",
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:oidc-provider/{ISSUER}",
            )


class GithubDeployRole(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        provider: iam.IOidcProvider,
        role_name: str,
        subject: str,
        grants: list[Grant],
    ) -> None:
        super().__init__(scope, id)
        document = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid=g.sid,
                    actions=list(g.actions),
                    resources=[r.format(**PSEUDO) for r in g.resources],
                    conditions={
                        op: {key: value.format(**PSEUDO) for key, value in values.items()}
                        for op, values in g.conditions.items()
                    }
                    or None,
                )
                for g in grants
            ]
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"GitHub Actions deploys ({subject})",
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={"StringEquals": {f"{ISSUER}:aud": AUDIENCE, f"{ISSUER}:sub": subject}},
            ),
            max_session_duration=Duration.hours(1),
            inline_policies={"deploy": document},
        )
        wildcards = sorted(
            {r.format(**NAG_PSEUDO) for g in grants for r in g.resources if "*" in r or "?" in r}
        )
        acknowledge(
            self.role,
            {
                f"AwsSolutions-IAM5[Resource::{r}]": "Scoped to this environment's names; the "
                "wildcard covers revisions, task ids, log streams, alarm names or the secret "
                "suffix (or, for `*`, actions without resource-level permissions)."
                for r in wildcards
            },
        )
