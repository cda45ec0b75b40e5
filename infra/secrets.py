"""Secrets generated at deploy time: the signing key material and the bootstrap API token.

Neither value ever appears in the template: Secrets Manager generates both.
functions/adapters/aws/keys.py splits `{"material": <64 chars>}` into the current and next
`sig_` keys; `POST /v2/keys/rotate` (or an operator) replaces it with `{"current", "next"}`.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import suppress

SIGNING_MATERIAL_KEY = "material"
SIGNING_MATERIAL_LENGTH = 64
TOKEN_LENGTH = 48

_NO_ROTATION = (
    "Rotation is an operator action, not a rotation Lambda: receivers verify with both the "
    "current and the next signing key, so keys rotate through POST /v2/keys/rotate or by "
    "writing {current, next} into the secret (docs/deploy.md); the API token is replaced the "
    "same way."
)


class Secrets(Construct):
    """Signing key material (JSON) and the bootstrap API token (plain string)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.signing_keys = secretsmanager.Secret(
            self,
            "SigningKeys",
            description="duetime signing keys: generated material, split into current and next",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({}),
                generate_string_key=SIGNING_MATERIAL_KEY,
                password_length=SIGNING_MATERIAL_LENGTH,
                exclude_punctuation=True,
                include_space=False,
            ),
            removal_policy=removal_policy,
        )
        self.api_token = secretsmanager.Secret(
            self,
            "ApiToken",
            description="duetime bootstrap API token (QSTASH_TOKEN for the SDKs)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=TOKEN_LENGTH,
                exclude_punctuation=True,
                include_space=False,
            ),
            removal_policy=removal_policy,
        )
        for secret in (self.signing_keys, self.api_token):
            suppress(secret, "AwsSolutions-SMG4", _NO_ROTATION)
