"""Queues through the official Python SDK on both engines: created, read, listed, paused,
resumed and deleted; messages enqueued are delivered in order, never more at once than the
queue's parallelism, held while it is paused, and cancelled by queue."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from qstash import QStash
from qstash.errors import QStashError

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Received, Receiver, Reply
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def _client(dev: DevProcess) -> QStash:
    return QStash(dev.token, base_url=dev.url, retry=False)


def _auth(dev: DevProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev.token}"}


def _name() -> str:
    return f"queue-{secrets.token_hex(4)}"


class Holding:
    """A receiver that holds each request a while and records how many were in at once."""

    def __init__(self, hold_seconds: float, statuses: dict[bytes, list[int]] | None = None):
        self.hold = hold_seconds
        self.statuses = statuses or {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, request: Received, _count: int) -> Reply:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.bodies.append(request.body)
            planned = self.statuses.get(request.body)
            status = planned.pop(0) if planned else 200
        time.sleep(self.hold)
        with self._lock:
            self.in_flight -= 1
        return Reply(status=status)


@pytest.fixture
def holding() -> Iterator[tuple[Holding, Receiver]]:
    hold = Holding(0.3)
    with Receiver(hold) as receiver:
        yield hold, receiver


def test_a_queue_is_created_read_listed_paused_resumed_and_deleted(
    either_dev: DevProcess,
) -> None:
    client, name = _client(either_dev), _name()
    client.queue.upsert(name, parallelism=2)
    queue = client.queue.get(name)
    assert (queue.name, queue.parallelism, queue.lag, queue.paused) == (name, 2, 0, False)
    assert queue.updated_at >= queue.created_at > 0
    assert name in [q.name for q in client.queue.list()]
    client.queue.pause(name)
    assert client.queue.get(name).paused is True
    client.queue.resume(name)
    assert client.queue.get(name).paused is False
    client.queue.upsert(name, parallelism=4, paused=True)
    assert (client.queue.get(name).parallelism, client.queue.get(name).paused) == (4, True)
    client.queue.delete(name)
    with pytest.raises(QStashError, match="not found"):
        client.queue.get(name)
    with pytest.raises(QStashError, match="not found"):
        client.queue.pause(name)


def test_a_queue_delivers_one_by_one_in_enqueue_order(
    either_dev: DevProcess, holding: tuple[Holding, Receiver]
) -> None:
    hold, receiver = holding
    client, name = _client(either_dev), _name()
    # When five messages are enqueued to a queue the enqueue creates (parallelism 1)
    answers = [
        client.message.enqueue(queue=name, url=receiver.url("/fifo"), body=str(i)) for i in range(5)
    ]
    # Then each arrives once, in enqueue order, never two at a time
    receiver.wait_for(5, timeout=30)
    assert hold.bodies == [str(i).encode() for i in range(5)]
    assert hold.most_in_flight == 1
    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [
        a.message_id for a in answers
    ]
    # And the queue is drained, its messages delivered and showing their queue
    eventually(lambda: client.queue.get(name).lag, lambda lag: lag == 0)
    message = client.message.get(answers[0].message_id)
    assert message.queue == name


def test_a_queue_never_has_more_in_flight_than_its_parallelism(either_dev: DevProcess) -> None:
    # Held a second each, so the slots overlap even on a loaded machine
    hold = Holding(1.0)
    client, name = _client(either_dev), _name()
    client.queue.upsert(name, parallelism=3)
    with Receiver(hold) as receiver:
        for i in range(9):
            client.message.enqueue_json(queue=name, url=receiver.url("/capped"), body={"n": i})
        receiver.wait_for(9, timeout=30)
    assert hold.most_in_flight == 3
    assert len({r.body for r in receiver.requests}) == 9


def test_a_paused_queue_holds_its_messages_and_loses_none(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    client.queue.upsert(name, parallelism=1, paused=True)
    for i in range(3):
        client.message.enqueue(queue=name, url=receiver.url("/paused"), body=str(i))
    time.sleep(1.5)
    assert receiver.requests == []
    assert client.queue.get(name).lag == 3
    client.queue.resume(name)
    receiver.wait_for(3, timeout=15)
    assert [r.body for r in receiver.requests] == [b"0", b"1", b"2"]


def test_the_next_message_waits_for_the_retries_of_the_one_before(
    either_dev: DevProcess,
) -> None:
    hold = Holding(0.0, statuses={b"first": [500, 500, 200]})
    client, name = _client(either_dev), _name()
    with Receiver(hold) as receiver:
        client.message.enqueue(
            queue=name, url=receiver.url("/retry"), body="first", retries=3, retry_delay="200"
        )
        client.message.enqueue(queue=name, url=receiver.url("/retry"), body="second")
        receiver.wait_for(4, timeout=20)
    assert hold.bodies == [b"first", b"first", b"first", b"second"]


def test_enqueued_messages_are_cancelled_by_their_queue(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    client.queue.upsert(name, paused=True)
    ids = [
        client.message.enqueue(queue=name, url=receiver.url("/cancel"), body=str(i)).message_id
        for i in range(3)
    ]
    # A queue that holds messages is not deleted: they would be lost
    with pytest.raises(QStashError, match="still holds 3 message"):
        client.queue.delete(name)
    answer = httpx.delete(
        f"{either_dev.url}/v2/messages",
        params={"queueName": name},
        headers={"Authorization": f"Bearer {either_dev.token}"},
    )
    assert answer.json() == {"cancelled": 3}
    states = [
        httpx.get(f"{either_dev.url}/v2/messages/{i}", headers=_auth(either_dev)).json()["state"]
        for i in ids
    ]
    assert states == ["CANCELED"] * 3
    assert client.queue.get(name).lag == 0
    client.queue.resume(name)
    time.sleep(1.0)
    assert receiver.requests == []
    client.queue.delete(name)


def test_a_batch_and_a_schedule_enqueue_to_a_queue(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    client.queue.upsert(name, paused=True)
    answers = client.message.batch_json(
        [
            {"queue": name, "url": receiver.url("/batch"), "body": {"n": 1}},
            {"queue": name, "url": receiver.url("/batch"), "body": {"n": 2}},
        ]
    )
    created_minute = int(time.time() // 60)
    schedule_id = client.schedule.create(
        destination=receiver.url("/cron"), cron="* * * * *", queue=name, body="tick"
    )
    assert client.schedule.get(schedule_id).queue == name
    lag = client.queue.get(name).lag
    # A minute boundary between the create and the read adds its tick to the paused queue
    same_minute = int(time.time() // 60) == created_minute
    assert (lag == 2) if same_minute else (lag in (2, 3))
    assert [client.message.get(a.message_id).queue for a in answers] == [name, name]  # type: ignore[union-attr]
    client.queue.resume(name)
    receiver.wait_for(2, timeout=15)
    batch = [r.body for r in receiver.requests if r.path == "/batch"]
    assert batch == [b'{"n": 1}', b'{"n": 2}']
    client.schedule.delete(schedule_id)


def test_a_queue_kill_switch_refuses_new_messages_to_that_queue_only(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    auth = _auth(either_dev)
    httpx.put(f"{either_dev.url}/v2/kill-switches/queue:{name}", headers=auth).raise_for_status()
    try:
        with pytest.raises(QStashError, match=f"queue:{name}"):
            client.message.enqueue(queue=name, url=receiver.url("/off"), body="no")
        other = _name()
        client.message.enqueue(queue=other, url=receiver.url("/on"), body="yes")
        receiver.wait_for(1, timeout=10)
    finally:
        httpx.delete(f"{either_dev.url}/v2/kill-switches/queue:{name}", headers=auth)
    client.message.enqueue(queue=name, url=receiver.url("/off"), body="again")
    receiver.wait_for(2, timeout=10)
    assert sorted(r.path for r in receiver.requests) == ["/off", "/on"]


def test_bad_queue_input_is_a_400_that_names_it(either_dev: DevProcess) -> None:
    auth = _auth(either_dev)
    cases = [
        ("/v2/queues", {"queueName": "q", "parallelism": 0}, "parallelism"),
        ("/v2/queues", {"queueName": "q", "paralelism": 2}, "paralelism"),
        ("/v2/queues", {"queueName": "bad name"}, "queue name"),
    ]
    for path, body, named in cases:
        answer = httpx.post(f"{either_dev.url}{path}", json=body, headers=auth)
        assert answer.status_code == 400, body
        assert named in answer.json()["error"]
    delayed = httpx.post(
        f"{either_dev.url}/v2/enqueue/{_name()}/https://example.com/x",
        headers={**auth, "Upstash-Delay": "10s"},
    )
    assert delayed.status_code == 400
    assert "Upstash-Delay" in delayed.json()["error"]
