"""The API keys secret: `{"API_KEYS": "<generated>"}`. The task reads the JSON key
(`...:API_KEYS::`), so the app gets the plain comma-separated value, never the JSON object."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.checks import acknowledge

API_KEYS_FIELD = "API_KEYS"


class ApiKeysSecret(Construct):
    def __init__(self, scope: Construct, id: str, *, secret_name: str, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=secret_name,
            description="API keys accepted for writes (comma-separated, under API_KEYS)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 - an empty JSON object to fill
                generate_string_key=API_KEYS_FIELD,
                exclude_punctuation=True,
                password_length=48,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.secret,
            {
                "AwsSolutions-SMG4": "API keys are handed to clients; they are rotated by people "
                "(add the new key, redeploy, retire the old one), see docs/infrastructure.md."
            },
        )
