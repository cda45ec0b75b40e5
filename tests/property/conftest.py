"""The property suite's Hypothesis profile and its two backends.

The profile is deterministic (derandomize, no example database), has no deadline (nothing
here is timed) and is applied per test through `support.examples(n)`, so it never changes the
profile another folder loads. The backends follow tests/contract's pattern, one fixture each so
each property can give them their own example counts: `aws` is the DynamoDB adapter on moto,
provisioned once for this package and emptied for each example; `sqlite` is the embedded
adapter on a fresh in-memory database for each example.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from functions.adapters.aws import aws_adapters
from functions.adapters.sqlite import LocalTimers, open_database, sqlite_adapters
from functions.config import Settings
from functions.local import moto_atomic, moto_speed
from functions.local.defaults import DEV_SIGNING_KEYS as KEYS
from functions.local.defaults import DEV_TOKEN as TOKEN
from functions.local.resources import REGION, provision
from functions.ports import Adapters
from tests.helpers.moto_table import empty_table
from tests.helpers.receiver import Receiver
from tests.property.support import PROFILE, RecordingTimers, ToLoopback

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

settings.register_profile(
    PROFILE,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # Examples that talk to moto or to the loopback receiver take tens of milliseconds each;
    # that is their cost, not a generation problem.
    suppress_health_check=[HealthCheck.too_slow],
)

# Examples per property and backend. The AWS adapter on moto is slow (tens of milliseconds a
# call), so it gets fewer: 25 for "an accepted publish is stored and an attempt recorded", 10
# for delivery (several attempts, each a dozen calls), 5 for the schedule and flow round trips.
EXAMPLES = {
    "aws": 25,
    "sqlite": 40,
    "aws-delivery": 10,
    "sqlite-delivery": 25,
    "aws-more": 5,
    "sqlite-more": 20,
}


@dataclass(frozen=True)
class Kit:
    """One clean backend for one example, its timers recorded."""

    name: str
    adapters: Adapters
    timers: RecordingTimers
    step_timers: RecordingTimers
    settings: Settings


def _recorded(name: str, adapters: Adapters, settings_: Settings) -> Kit:
    timers = RecordingTimers(adapters.timers)
    step_timers = RecordingTimers(adapters.step_timers)
    return Kit(
        name=name,
        adapters=replace(adapters, timers=timers, step_timers=step_timers),
        timers=timers,
        step_timers=step_timers,
        settings=settings_,
    )


@dataclass(frozen=True)
class MotoTable:
    adapters: Adapters
    settings: Settings
    table_name: str
    dynamodb: DynamoDBClient

    def empty(self) -> None:
        empty_table(self.dynamodb, self.table_name)


@dataclass
class Backend:
    """What a test gets: the backend's name and, per example, a clean backend."""

    name: str
    moto: MotoTable | None = None

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Kit]:
        if self.moto is not None:
            self.moto.empty()
            yield _recorded("aws", self.moto.adapters, self.moto.settings)
            return
        db = open_database(None)
        timers = LocalTimers(workers=1)  # never started: arming only records the wake-up
        try:
            adapters = sqlite_adapters(db, timers=timers, keys=KEYS, tokens=(TOKEN,))
            yield _recorded("sqlite", adapters, Settings(dev_mode=True))
        finally:
            timers.stop()
            db.close()


@pytest.fixture(scope="package")
def aws() -> Iterator[Backend]:
    """The DynamoDB adapter on moto, provisioned once for the package (as tests/contract and
    tests/integration do: moto_atomic, moto_speed, `provision` inside `mock_aws`)."""
    moto_atomic.install()
    moto_speed.install()
    with mock_aws():
        resources = provision(KEYS)
        # dev_mode: deliveries go to the loopback receiver, and no destination is resolved.
        aws_settings = replace(Settings.from_env(resources.environment(token=TOKEN)), dev_mode=True)
        yield Backend(
            "aws",
            MotoTable(
                adapters=aws_adapters(aws_settings),
                settings=aws_settings,
                table_name=resources.table_name,
                dynamodb=boto3.client("dynamodb", region_name=REGION),
            ),
        )


@pytest.fixture(scope="package")
def sqlite() -> Backend:
    """The embedded adapter; each example opens its own in-memory database."""
    return Backend("sqlite")


@dataclass(frozen=True)
class Loopback:
    """A receiver on 127.0.0.1 and a transport that sends every request to it."""

    receiver: Receiver
    transport: ToLoopback


@pytest.fixture(scope="package")
def loopback() -> Iterator[Loopback]:
    """One receiver and transport for the package (tests/conftest.py's receiver is per test,
    which Hypothesis examples must not share; building a transport costs an SSL context, too
    slow to do per example). Tests reset what the receiver records and answers per example."""
    with Receiver() as receiver:
        port = urlsplit(receiver.url()).port
        assert port is not None
        transport = ToLoopback(port)
        try:
            yield Loopback(receiver, transport)
        finally:
            transport.close()
