"""Once per account (the seed's setup.sh, as a stack): the GitHub OIDC provider, the deploy
role, and the image repository (with its cross-account replication, if configured), which
must exist before the first image can be pushed and so before the environment's stack can run
one. Re-deploying it changes nothing."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.deploy_policy import grants
from infra.constructs.github_oidc import GithubDeployRole, GithubOidcProvider
from infra.constructs.registry import ImageRepository, RegistryReplication


class BootstrapStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        oidc = GithubOidcProvider(self, "GithubOidc", create=config.create_oidc_provider)
        deploy = GithubDeployRole(
            self,
            "GithubDeploy",
            provider=oidc.provider,
            role_name=config.names.deploy_role,
            subject=config.github_subject,
            grants=grants(config),
        )
        registry = ImageRepository(
            self, "Registry", name=config.names.repository, keep_tagged=config.ecr_keep_tagged
        )
        RegistryReplication(
            self,
            "RegistryReplication",
            repository_name=config.names.repository,
            to_account=config.ecr_replicate_to_account,
            from_account=config.ecr_replicate_from_account,
        )
        CfnOutput(
            self,
            "DeployRoleArn",
            value=deploy.role.role_arn,
            description="GitHub: aws-actions/configure-aws-credentials role-to-assume",
        )
        CfnOutput(self, "RepositoryUri", value=registry.repository.repository_uri)
        CfnOutput(self, "GithubSubject", value=config.github_subject)
