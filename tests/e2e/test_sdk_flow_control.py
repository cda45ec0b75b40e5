"""Flow control through the official Python SDK on both engines: a key's parallelism and rate
observed at the receiver, its state read back, pause and resume, pin, unpin and resetRate,
and the global parallelism."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest
from qstash import QStash
from qstash.errors import QStashError

from tests.e2e.conftest import DevProcess
from tests.e2e.test_sdk_queues import Holding
from tests.helpers.receiver import Receiver
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def _client(dev: DevProcess) -> QStash:
    return QStash(dev.token, base_url=dev.url, retry=False)


def _key() -> str:
    return f"tenant-{secrets.token_hex(4)}"


def test_a_keys_parallelism_caps_what_is_in_flight(either_dev: DevProcess) -> None:
    client, key = _client(either_dev), _key()
    hold = Holding(1.0)  # a second each, so the slots overlap even on a loaded machine
    with Receiver(hold) as receiver:
        ids = [
            client.message.publish_json(
                url=receiver.url(f"/fc/{n}"),
                body={"n": n},
                flow_control={"key": key, "parallelism": 2},
            ).message_id  # type: ignore[union-attr]
            for n in range(6)
        ]
        receiver.wait_for(6, timeout=30)
    assert hold.most_in_flight == 2
    assert sorted(r.path for r in receiver.requests) == [f"/fc/{n}" for n in range(6)]
    message = client.message.get(ids[0])
    assert message.flow_control is not None
    assert (message.flow_control.key, message.flow_control.parallelism) == (key, 2)
    info = eventually(
        lambda: client.flow_control.get(key), lambda i: i.parallelism_count == 0, timeout=10
    )
    assert (info.key, info.parallelism_max, info.wait_list_size) == (key, 2, 0)


def test_a_keys_rate_spreads_the_starts_over_its_periods(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, key = _client(either_dev), _key()
    published_at = time.time()
    for n in range(6):
        client.message.publish(
            url=receiver.url(f"/rate/{n}"),
            body=str(n),
            flow_control={"key": key, "rate": 2, "period": 1},
        )
    arrivals = sorted(r.at for r in receiver.wait_for(6, timeout=30))
    # Two per one-second period: the k-th cannot start before period k // 2 after the first
    # admission, which came after the publishes began (an arrival only adds its own latency)
    earliest = [published_at + k // 2 - 0.05 for k in range(6)]
    assert all(a >= e for a, e in zip(arrivals, earliest, strict=True)), [
        round(a - published_at, 2) for a in arrivals
    ]
    info = client.flow_control.get(key)
    assert (info.rate_max, info.rate_period) == (2, 1)


def test_a_paused_key_holds_its_messages_until_resumed(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, key = _client(either_dev), _key()
    control = {"key": key, "parallelism": 5}
    client.message.publish(url=receiver.url("/first"), body="0", flow_control=control)
    receiver.wait_for(1, timeout=10)
    client.flow_control.pause(key)
    for n in (1, 2):
        client.message.publish(url=receiver.url(f"/held/{n}"), body=str(n), flow_control=control)
    # Each joins the wait list when its timer fires, and stays there while the key is paused
    info = eventually(lambda: client.flow_control.get(key), lambda got: got.wait_list_size == 2)
    assert info.is_paused is True
    assert len(receiver.requests) == 1
    client.flow_control.resume(key)
    receiver.wait_for(3, timeout=10)
    assert client.flow_control.get(key).is_paused is False


def test_pin_unpin_reset_rate_and_the_global_parallelism(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, key = _client(either_dev), _key()
    client.message.publish(
        url=receiver.url("/pin"), body="x", flow_control={"key": key, "rate": 5, "period": 60}
    )
    receiver.wait_for(1, timeout=10)
    assert client.flow_control.get(key).rate_count == 1
    client.flow_control.pin(key, {"parallelism": 1, "rate": 3, "period": 30})
    info = client.flow_control.get(key)
    assert (info.parallelism_max, info.rate_max, info.rate_period) == (1, 3, 30)
    assert (info.is_pinned_parallelism, info.is_pinned_rate) == (True, True)
    # A message's own limits do not change pinned ones
    client.message.publish(
        url=receiver.url("/pin"), body="y", flow_control={"key": key, "parallelism": 9}
    )
    receiver.wait_for(2, timeout=10)
    assert client.flow_control.get(key).parallelism_max == 1
    client.flow_control.unpin(key, {"parallelism": True})
    info = client.flow_control.get(key)
    assert (info.is_pinned_parallelism, info.is_pinned_rate) == (False, True)
    client.flow_control.reset_rate(key)
    assert client.flow_control.get(key).rate_count == 0
    # The second /pin leaves the count once its answer is recorded, just after it arrived
    overall = eventually(
        client.flow_control.get_global_parallelism, lambda got: got.parallelism_count == 0
    )
    assert overall.parallelism_max == 0
    auth = {"Authorization": f"Bearer {either_dev.token}"}
    listed = httpx.get(f"{either_dev.url}/v2/flowControl", headers=auth).json()
    assert key in [entry["flowControlKey"] for entry in listed]


def test_flow_control_mistakes_are_4xx_that_name_them(either_dev: DevProcess) -> None:
    client = _client(either_dev)
    with pytest.raises(QStashError, match="not found"):
        client.flow_control.get(_key())
    with pytest.raises(QStashError, match="not found"):
        client.flow_control.reset_rate(_key())
    # A key may be paused before its first message, and is then known
    early = _key()
    client.flow_control.pause(early)
    assert client.flow_control.get(early).is_paused is True
    auth = {"Authorization": f"Bearer {either_dev.token}"}
    lonely = httpx.post(
        f"{either_dev.url}/v2/publish/https://example.com/x",
        headers={**auth, "Upstash-Flow-Control-Key": "k"},
    )
    assert lonely.status_code == 400
    assert "go together" in lonely.json()["error"]
    odd = httpx.post(
        f"{either_dev.url}/v2/publish/https://example.com/x",
        headers={**auth, "Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "x=1"},
    )
    assert odd.status_code == 400
    assert "Upstash-Flow-Control-Value" in odd.json()["error"]
