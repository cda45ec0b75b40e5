"""`POST /v2/batch` through the official Python SDK (`batch`, `batch_json`), on both engines:
deliveries received, answers lined up with the input, and bad items refused by index with
nothing of the batch written."""

from __future__ import annotations

import json

import httpx
import pytest
import standardwebhooks
from qstash import QStash
from qstash.errors import QStashError

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.e2e


def _client(dev: DevProcess) -> QStash:
    return QStash(dev.token, base_url=dev.url, retry=False)


def _events_for(dev: DevProcess, url: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{dev.url}/v2/events",
        params={"url": url},
        headers={"Authorization": f"Bearer {dev.token}"},
    )
    assert answer.status_code == 200, answer.text
    events: list[dict[str, object]] = answer.json()["events"]
    return events


def test_batch_json_delivers_each_message_with_its_own_headers(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client = _client(either_dev)
    # When three messages go in one batch, one of them delayed and one with its own method
    answers = client.message.batch_json(
        [
            {"url": receiver.url("/batch/a"), "body": {"n": 1}, "headers": {"X-Tag": "a"}},
            {"url": receiver.url("/batch/b"), "body": {"n": 2}, "method": "PUT"},
            {"url": receiver.url("/batch/c"), "body": {"n": 3}, "delay": "1s"},
        ]
    )
    # Then the answer lines up with the input: one distinct message id each
    ids = [a.message_id for a in answers]  # type: ignore[union-attr]
    assert len(set(ids)) == 3
    # And each is delivered once, signed, with its own headers, method and body
    received = {r.path: r for r in receiver.wait_for(3, timeout=15)}
    assert set(received) == {"/batch/a", "/batch/b", "/batch/c"}
    assert received["/batch/a"].headers["X-Tag"] == "a"
    assert received["/batch/b"].method == "PUT"
    assert json.loads(received["/batch/c"].body) == {"n": 3}
    for path, message_id in zip(("/batch/a", "/batch/b", "/batch/c"), ids, strict=True):
        request = received[path]
        assert request.headers["Upstash-Message-Id"] == message_id
        standardwebhooks.Webhook(either_dev.webhook_secret).verify(
            request.body, dict(request.headers)
        )
    receiver.wait_for(4, timeout=1.5)
    assert len(receiver.requests) == 3


def test_batch_items_sharing_a_deduplication_id_are_one_message(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client = _client(either_dev)
    url = receiver.url("/batch/dedup")
    answers = client.message.batch(
        [
            {"url": url, "body": "first", "deduplication_id": "batch-dedup-1"},
            {"url": url, "body": "second", "deduplication_id": "batch-dedup-1"},
        ]
    )
    first, second = answers
    assert second.message_id == first.message_id  # type: ignore[union-attr]
    assert second.deduplicated is True  # type: ignore[union-attr]
    (request,) = receiver.wait_for(1, timeout=10)
    assert request.body == b"first"
    receiver.wait_for(2, timeout=1.5)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({"destination": "not a url"}, "destination"),
        ({"destination": "http://127.0.0.1:9/x", "queue": "two words"}, "queue"),
        ({"destination": "http://127.0.0.1:9/x", "headers": {"Upstash-Delay": "soon"}}, "Delay"),
        ({"destination": "http://127.0.0.1:9/x", "bodyy": "typo"}, "bodyy"),
        ({"destination": "http://127.0.0.1:9/x", "headers": {"X": 1}}, "headers"),
        ("just a string", "JSON object"),
    ],
)
def test_a_bad_item_is_a_400_naming_its_index_and_nothing_is_written(
    either_dev: DevProcess, item: object, named: str
) -> None:
    good = f"http://127.0.0.1:9/batch-untouched-{named}"
    answer = httpx.post(
        f"{either_dev.url}/v2/batch",
        json=[{"destination": good, "body": "ok"}, item],
        headers={"Authorization": f"Bearer {either_dev.token}"},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error.startswith("batch message 1: ")
    assert named in error
    # The good first item was not written either
    assert _events_for(either_dev, good) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"destination": "http://127.0.0.1:9/x"}, "JSON array"),
        ([], "empty"),
        ([{"destination": "http://127.0.0.1:9/x"}] * 101, "at most 100"),
    ],
)
def test_a_batch_that_is_not_a_list_of_1_to_100_is_a_400(
    either_dev: DevProcess, body: object, error: str
) -> None:
    answer = httpx.post(
        f"{either_dev.url}/v2/batch",
        json=body,
        headers={"Authorization": f"Bearer {either_dev.token}"},
    )
    assert answer.status_code == 400
    assert error in answer.json()["error"]


def test_the_sdk_raises_the_servers_error_for_a_bad_batch(either_dev: DevProcess) -> None:
    with pytest.raises(QStashError, match="batch message 1: Upstash-Method"):
        _client(either_dev).message.batch(
            [
                {"url": "http://127.0.0.1:9/x", "body": "x"},
                {"url": "http://127.0.0.1:9/x", "body": "x", "method": "BREW"},  # type: ignore[typeddict-item]
            ]
        )
