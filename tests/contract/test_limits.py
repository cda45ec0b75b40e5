"""The largest message publish accepts is delivered and recorded through every retry.

Every size at its limit at once (functions/domain/limits.py): a 256 KB body, 64 forwarded
headers of 8 KB together, 4 KB URLs, the longest label and deduplication id, both callbacks
with their own largest headers, and 20 retries. The receiver answers each attempt with a 500,
a 600 KB non-ASCII body and 12 KB of headers, so every attempt's event is as large as it can
be. On DynamoDB the item is then measured by DynamoDB's own size rules, which moto applies
only loosely (it allows 405,000 bytes).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions import wiring
from functions.config import Settings
from functions.domain.limits import (
    MAX_DEDUPLICATION_ID_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_LABEL_BYTES,
    MAX_URL_BYTES,
)
from functions.domain.messages import EventState, MessageState
from functions.domain.publish import MAX_RETRIES
from functions.local.resources import REGION
from functions.ports import Adapters
from tests.contract.builders import T0
from tests.contract.conftest import MotoBackend
from tests.helpers.clock import FakeClock
from tests.helpers.drive import drive
from tests.helpers.receiver import Received, Receiver, Reply

BODY_LIMIT = 262_144
DYNAMODB_ITEM_LIMIT = 400 * 1024


def _padded_url(receiver: Receiver, path: str) -> str:
    """A receiver URL exactly MAX_URL_BYTES long (the padding is a query the receiver ignores)."""
    base = receiver.url(path) + "?pad="
    return base + "p" * (MAX_URL_BYTES - len(base))


def _largest_headers(prefix: str) -> dict[str, str]:
    """MAX_HEADERS headers whose names (without `prefix`) and values are MAX_HEADER_BYTES."""
    names = [f"x-limit-{n:02d}" for n in range(MAX_HEADERS)]
    value_room = (MAX_HEADER_BYTES - sum(len(n) for n in names)) // MAX_HEADERS
    return {f"{prefix}{name}": "v" * value_room for name in names}


def _huge_failure(_: Received, __: int) -> Reply:
    headers = {f"x-answer-{n:02d}": "h" * 290 for n in range(40)}  # ~12 KB, under h11's 16 KB
    return Reply(status=500, headers=headers, body=("é" * 300_000).encode())


@pytest.fixture
def graph(backend: Adapters) -> Iterator[tuple[wiring.Graph, FakeClock]]:
    clock = FakeClock(T0)
    built = wiring.build(Settings(dev_mode=True, max_body_bytes=BODY_LIMIT), backend, clock=clock)
    wiring.install(built)
    try:
        yield built, clock
    finally:
        wiring.install(None)


def _publish_largest(graph: wiring.Graph, receiver: Receiver) -> str:
    headers = {
        **_largest_headers("Upstash-Forward-"),
        "Upstash-Retries": str(MAX_RETRIES),
        "Upstash-Retry-Delay": "1000",
        "Upstash-Label": "l" * MAX_LABEL_BYTES,
        "Upstash-Deduplication-Id": "d" * MAX_DEDUPLICATION_ID_BYTES,
        "Upstash-Callback": _padded_url(receiver, "/callback"),
        "Upstash-Failure-Callback": _padded_url(receiver, "/failure"),
        **_largest_headers("Upstash-Callback-Forward-"),
        **_largest_headers("Upstash-Failure-Callback-Forward-"),
    }
    published = graph.message_service.publish(
        destination=_padded_url(receiver, "/hook"),
        headers=headers,
        body=bytes(range(256)) * (BODY_LIMIT // 256),
    )
    assert not published.deduplicated
    return published.message_id


def test_the_largest_message_is_recorded_through_every_retry(
    graph: tuple[wiring.Graph, FakeClock], request: pytest.FixtureRequest
) -> None:
    built, clock = graph
    with Receiver(_huge_failure) as receiver:
        message_id = _publish_largest(built, receiver)
        drive(message_id, clock, max_attempts=MAX_RETRIES + 5)

        attempts = [r for r in receiver.requests if r.path.startswith("/hook")]
        message = built.message_store.get(message_id)

    assert message.state is MessageState.FAILED
    assert message.retried == MAX_RETRIES
    # Every attempt was sent whole and recorded: 20 errors, then the failure.
    assert len(attempts) == MAX_RETRIES + 1
    assert all(len(a.body) == BODY_LIMIT for a in attempts)
    assert all(a.headers["x-limit-63"] == attempts[0].headers["x-limit-63"] for a in attempts)
    outcomes = [e.state for e in message.events if e.response_status is not None]
    assert outcomes == [EventState.ERROR] * MAX_RETRIES + [EventState.FAILED]
    last = message.events[-1]
    assert last.response_status == 500
    assert last.response_body is not None
    assert last.response_body.startswith("é")
    # Each attempt's callback and the failure callback were created with their records.
    pending = built.message_store.get_many(built.message_store.pending_ids())
    urls = sorted(m.url for m in pending)
    callback, failure = _padded_url(receiver, "/callback"), _padded_url(receiver, "/failure")
    assert urls == [callback] * (MAX_RETRIES + 1) + [failure]
    assert built.message_store.in_dlq(message_id).message_id == message_id

    if request.node.callspec.params["backend"] == "aws":
        size = _dynamodb_item_size(request.getfixturevalue("moto_backend"), message_id)
        print(f"largest message item after {MAX_RETRIES + 1} attempts: {size:,} bytes")
        assert size <= DYNAMODB_ITEM_LIMIT


# --- DynamoDB's item size, by its documented rules -----------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def _value_size(value: dict[str, Any]) -> int:  # noqa: PLR0911 - one per type
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner if isinstance(inner, bytes) else base64.b64decode(inner))
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    raise AssertionError(f"unexpected DynamoDB type {kind}")


def _dynamodb_item_size(moto: MotoBackend, message_id: str) -> int:
    client = boto3.client("dynamodb", region_name=REGION)
    items = client.scan(TableName=moto.table_name)["Items"]
    mine = [i for i in items if i.get("message_id", {}).get("S") == message_id and "url" in i]
    assert len(mine) == 1
    return sum(len(k.encode()) + _value_size(v) for k, v in mine[0].items())
