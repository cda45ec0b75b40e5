"""Secrets Manager reads are cached for `max_age` seconds (botocore against moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from moto import mock_aws

from functions.adapters.aws import clients
from functions.adapters.aws.secrets import CachedSecrets

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@pytest.fixture
def secretsmanager() -> Iterator[tuple[SecretsManagerClient, list[str]]]:
    """A moto Secrets Manager client, and the GetSecretValue calls it made."""
    with mock_aws():
        client = clients.secretsmanager("us-east-1")
        reads: list[str] = []

        def count(params: dict[str, Any], **_: Any) -> None:
            reads.append(params["SecretId"])

        client.meta.events.register("provide-client-params.secrets-manager.GetSecretValue", count)
        client.create_secret(Name="text", SecretString="one")
        client.create_secret(Name="bytes", SecretBinary=b"raw")
        yield client, reads


def test_a_secret_is_read_once_while_fresh_and_again_once_cleared(
    secretsmanager: tuple[SecretsManagerClient, list[str]],
) -> None:
    client, reads = secretsmanager
    secrets = CachedSecrets(client)
    assert [secrets.get("text", max_age=300) for _ in range(5)] == ["one"] * 5
    assert reads == ["text"]

    client.put_secret_value(SecretId="text", SecretString="two")
    assert secrets.get("text", max_age=300) == "one"  # still the cached value
    secrets.clear()
    assert secrets.get("text", max_age=300) == "two"
    assert reads == ["text", "text"]


def test_max_age_zero_reads_every_time_and_a_binary_secret_is_decoded(
    secretsmanager: tuple[SecretsManagerClient, list[str]],
) -> None:
    client, reads = secretsmanager
    secrets = CachedSecrets(client)
    assert secrets.get("bytes", max_age=0) == "raw"
    assert secrets.get("bytes", max_age=0) == "raw"
    assert reads == ["bytes", "bytes"]


def test_an_unknown_secret_is_the_service_error_and_nothing_is_cached(
    secretsmanager: tuple[SecretsManagerClient, list[str]],
) -> None:
    client, _ = secretsmanager
    secrets = CachedSecrets(client)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        secrets.get("missing", max_age=300)
    client.create_secret(Name="missing", SecretString="now here")
    assert secrets.get("missing", max_age=300) == "now here"
