"""The contract suite's backends: every test taking `backend` runs once on each adapter.

"aws" is the DynamoDB adapter on moto, provisioned exactly as tests/integration/conftest.py
does (moto_atomic, moto_speed, `provision` inside `mock_aws`, the dev keys and token).
Provisioning costs a second or more, so it happens once for this package (torn down before
any other test folder runs its own `mock_aws`) and each test starts from an emptied table.
"sqlite" is the embedded adapter on a fresh in-memory database per test.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from functions.adapters.aws import aws_adapters
from functions.adapters.aws.keys import SecretsKeys
from functions.adapters.aws.models import MODELS
from functions.adapters.sqlite import LocalTimers, open_database, sqlite_adapters
from functions.config import Settings
from functions.local import moto_atomic, moto_speed
from functions.local.defaults import DEV_SIGNING_KEYS as KEYS
from functions.local.defaults import DEV_TOKEN as TOKEN
from functions.local.resources import REGION, provision
from functions.ports import Adapters
from tests.helpers.moto_table import empty_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BACKENDS = ("aws", "sqlite")


@dataclass(frozen=True)
class MotoBackend:
    adapters: Adapters
    table_name: str
    dynamodb: DynamoDBClient
    signing_keys_secret_id: str

    def empty(self) -> None:
        """Delete every item and put the dev keys back, so each test starts afresh."""
        empty_table(self.dynamodb, self.table_name)
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.signing_keys_secret_id,
            SecretString=json.dumps({"current": KEYS.current, "next": KEYS.next}),
        )
        assert isinstance(self.adapters.keys, SecretsKeys)
        self.adapters.keys.forget_cached()  # a rotation test left its keys in the cache


@pytest.fixture(scope="package")
def moto_backend() -> Iterator[MotoBackend]:
    moto_atomic.install()
    moto_speed.install()
    with mock_aws():
        resources = provision(KEYS)
        settings = Settings.from_env(resources.environment(token=TOKEN))
        adapters = aws_adapters(settings)
        _warm_up()
        yield MotoBackend(
            adapters=adapters,
            table_name=resources.table_name,
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            signing_keys_secret_id=resources.signing_keys_secret_id,
        )


def _warm_up() -> None:
    """One read per model, so its (lazily built) botocore client exists before a test races
    50 threads into it: pynamodb builds it unguarded, once per thread that finds none, and 50
    concurrent builds cost seconds."""
    for model in MODELS:
        with contextlib.suppress(model.DoesNotExist):
            model.get("warm-up", "warm-up")


@pytest.fixture
def sqlite_backend() -> Iterator[Adapters]:
    db = open_database(None)
    timers = LocalTimers(workers=4)
    try:
        yield sqlite_adapters(db, timers=timers, keys=KEYS, tokens=(TOKEN,))
    finally:
        timers.stop()
        db.close()


@pytest.fixture
def aws_backend(moto_backend: MotoBackend) -> Adapters:
    moto_backend.empty()
    return moto_backend.adapters


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Adapters:
    """One adapter bundle per run of the test: ids "aws" and "sqlite"."""
    adapters: Adapters = request.getfixturevalue(f"{request.param}_backend")
    return adapters
