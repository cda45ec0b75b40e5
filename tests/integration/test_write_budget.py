"""The cost budget: a small message's happy path is three DynamoDB writes, log included."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from functions import wiring
from functions.adapters.aws.models import MessageItem
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.helpers.drive import drive
from tests.helpers.receiver import Receiver
from tests.integration.conftest import Aws

_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


@pytest.fixture
def writes(aws: Aws) -> Iterator[Counter[str]]:
    """Counts the write requests duetime's store makes (items, for transactions)."""
    counted: Counter[str] = Counter()
    assert wiring.graph().adapters.name == "aws"  # binds the models to the table first
    events = MessageItem._get_connection().connection.client.meta.events

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        name = model.name
        counted[name] += len(params.get("TransactItems", [])) if name == "TransactWriteItems" else 1

    for name in _WRITES:
        events.register(f"provide-client-params.dynamodb.{name}", count)
    yield counted
    for name in _WRITES:
        events.unregister(f"provide-client-params.dynamodb.{name}", count)


def _deliver(aws: Aws, url: str, **headers: str) -> None:
    response = call("POST", f"/v2/publish/{url}", token=aws.token, headers=headers)
    message_id = response.json["messageId"]
    clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
    drive(message_id, clock)
    assert wiring.graph().message_store.get(message_id).state.value == "DELIVERED"


def test_happy_path_costs_three_writes(aws: Aws, receiver: Receiver, writes: Counter[str]) -> None:
    _deliver(aws, receiver.url())
    assert sum(writes.values()) == 3
    assert writes == Counter({"PutItem": 1, "UpdateItem": 2})


def test_with_a_deduplication_id_it_costs_four(
    aws: Aws, receiver: Receiver, writes: Counter[str]
) -> None:
    _deliver(aws, receiver.url(), **{"Upstash-Deduplication-Id": "once"})
    assert sum(writes.values()) == 4
    assert writes == Counter({"TransactWriteItems": 2, "UpdateItem": 2})
