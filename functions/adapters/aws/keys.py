"""Signing keys and API tokens, read from Secrets Manager and cached for a short time.

One Secrets Manager call per invocation would cost more than the rest of a delivery, so the
values live in the execution environment for `secret_cache_seconds` (Powertools' cache).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities import parameters

from functions.config import Settings
from functions.domain.auth import hash_token
from functions.domain.errors import DuetimeError
from functions.domain.signing import SigningKeys

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretFormatError(DuetimeError):
    """A secret does not hold what duetime stored there."""


def _secret_text(
    secret_id: str, max_age: int, provider: parameters.SecretsProvider | None = None
) -> str:
    value = (provider or parameters.SecretsProvider()).get(secret_id, max_age=max_age)
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def signing_keys(
    settings: Settings, provider: parameters.SecretsProvider | None = None
) -> SigningKeys:
    """Current and next signing keys from their secret.

    The secret is JSON: `{"current": ..., "next": ...}` once an operator has set or rotated keys,
    or `{"material": <64+ random chars>}` as Secrets Manager generates it at deploy time, split
    into two `sig_` keys (CloudFormation can generate only one random field per secret).
    """
    raw = _secret_text(settings.signing_keys_secret_id, settings.secret_cache_seconds, provider)
    try:
        data = json.loads(raw)
        if "current" in data:
            return SigningKeys.from_raw(str(data["current"]), str(data["next"]))
        return keys_from_material(str(data["material"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SecretFormatError(
            "signing keys secret must be JSON with current and next, or with material"
        ) from exc


def keys_from_material(material: str) -> SigningKeys:
    """Two keys from one generated random string (at least 64 characters)."""
    material = material.strip()
    if len(material) < 64:
        raise ValueError("signing key material must be at least 64 characters")
    half = len(material) // 2
    return SigningKeys(current="sig_" + material[:half], next="sig_" + material[half:])


def token_hashes(
    settings: Settings, provider: parameters.SecretsProvider | None = None
) -> tuple[str, ...]:
    """sha256 digests of every accepted API token: configured hashes plus the bootstrap secret."""
    hashes = list(settings.token_sha256)
    if settings.token_secret_id:
        token = _secret_text(
            settings.token_secret_id, settings.secret_cache_seconds, provider
        ).strip()
        hashes.append(hash_token(token))
    return tuple(hashes)


class SecretsKeys:
    """The AWS key source: Secrets Manager, cached per execution environment (one provider,
    so one cache, per composition root)."""

    def __init__(self, settings: Settings, client: SecretsManagerClient | None = None) -> None:
        self._settings = settings
        # Given a client, the provider makes no boto3 session of its own (~80 ms cold).
        self._provider = parameters.SecretsProvider(boto3_client=client)

    def signing_keys(self) -> SigningKeys:
        return signing_keys(self._settings, self._provider)

    def token_hashes(self) -> tuple[str, ...]:
        return token_hashes(self._settings, self._provider)
