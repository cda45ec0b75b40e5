"""Signing keys and API tokens, read from Secrets Manager and cached for a short time.

One Secrets Manager call per invocation would cost more than the rest of a delivery, so the
values live in the execution environment for `secret_cache_seconds` (functions/adapters/aws/
secrets.py says why that cache is not Powertools').
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from functions.adapters.aws import clients
from functions.adapters.aws.secrets import CachedSecrets
from functions.domain.auth import hash_token
from functions.domain.errors import ConflictError, DuetimeError
from functions.domain.signing import SigningKeys, keys_document, keys_from_document

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from functions.config import Settings


class SecretFormatError(DuetimeError):
    """A secret does not hold what duetime stored there."""


def signing_keys(settings: Settings, secrets: CachedSecrets) -> SigningKeys:
    """Current and next signing keys from their secret.

    The secret is JSON: `{"current": ..., "next": ...}` once an operator has set or rotated keys,
    or `{"material": <64+ random chars>}` as Secrets Manager generates it at deploy time, split
    into two `sig_` keys (CloudFormation can generate only one random field per secret).
    """
    raw = secrets.get(settings.signing_keys_secret_id, max_age=settings.secret_cache_seconds)
    return parse_signing_keys(raw)


def parse_signing_keys(raw: str) -> SigningKeys:
    try:
        data = json.loads(raw)
        if "current" in data:
            return keys_from_document(data)
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


def token_hashes(settings: Settings, secrets: CachedSecrets) -> tuple[str, ...]:
    """sha256 digests of every accepted API token: configured hashes plus the bootstrap secret."""
    hashes = list(settings.token_sha256)
    if settings.token_secret_id:
        token = secrets.get(settings.token_secret_id, max_age=settings.secret_cache_seconds).strip()
        hashes.append(hash_token(token))
    return tuple(hashes)


class SecretsKeys:
    """The AWS key source: Secrets Manager, cached per execution environment (one provider,
    so one cache, per composition root)."""

    def __init__(self, settings: Settings, client: SecretsManagerClient | None = None) -> None:
        self._settings = settings
        self._secrets = CachedSecrets(client or clients.secretsmanager(settings.region))

    def signing_keys(self) -> SigningKeys:
        return signing_keys(self._settings, self._secrets)

    def rotate(self, new_next: str, *, now: datetime) -> SigningKeys:
        """Read the secret's current version uncached and write the rotated keys as a new one.

        Secrets Manager has no conditional write, but a version's ClientRequestToken is unique:
        deriving it from the version being replaced makes two rotations of that version collide
        (ResourceExistsException) instead of both succeeding with different next keys."""
        client = self._secrets.client
        secret_id = self._settings.signing_keys_secret_id
        current = client.get_secret_value(SecretId=secret_id)
        rotated = (
            parse_signing_keys(current["SecretString"])
            .without_expired(now)
            .rotated(new_next, now=now)
        )
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"duetime-rotation:{current['VersionId']}"))
        try:
            client.put_secret_value(
                SecretId=secret_id,
                SecretString=json.dumps(keys_document(rotated)),
                ClientRequestToken=token,
            )
        except client.exceptions.ResourceExistsException as exc:
            raise ConflictError(
                "the signing keys were rotated by another request at the same time; "
                "read them with GET /v2/keys"
            ) from exc
        self.forget_cached()  # this environment signs with the new keys at once
        return rotated

    def forget_cached(self) -> None:
        """Drop the cached secrets, so the next read fetches them (after a change elsewhere)."""
        self._secrets.clear()

    def token_hashes(self) -> tuple[str, ...]:
        return token_hashes(self._settings, self._secrets)
