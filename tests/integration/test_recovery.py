"""Crashes at each point of the delivery path, and the sweeper that finishes the work."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta
from typing import Any

import boto3
import pytest

from functions import wiring
from functions.adapters.aws.messages import MessageStore
from functions.adapters.aws.models import MessageItem
from functions.domain.clock import utc_now
from functions.domain.messages import Message
from functions.domain.timers import TimerPayload
from functions.handlers import recover
from functions.local.lambda_context import LocalContext
from functions.services import delivery as dispatcher_module
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.helpers.receiver import Receiver
from tests.integration.conftest import Aws, delivery_pump, publish


class CrashError(RuntimeError):
    """Stands for the process dying at this point."""


def _drain(aws: Aws) -> int:
    pump = delivery_pump(aws)
    total = 0
    while (n := pump.poll_once()) > 0:
        total += n
    return total


def _crashing_attempt(message_id: str, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Run one dispatch whose lease is already expired, crashing at `where`."""

    def crash(*_: Any, **__: Any) -> Any:
        raise CrashError(where)

    if where == "before_send":
        monkeypatch.setattr(dispatcher_module, "attempt", crash)
    else:
        monkeypatch.setattr(MessageStore, "record", crash)
    doomed = dataclasses.replace(wiring.graph().dispatcher, lease=timedelta(seconds=-120))
    due = wiring.graph().message_store.get(message_id).due_at
    with pytest.raises(CrashError):
        doomed.handle(TimerPayload(message_id, due))
    monkeypatch.undo()


def _recover() -> dict[str, Any]:
    return recover.handler({}, LocalContext("duetime-recover"))


def _recover_later(seconds: float) -> int:
    """A sweep as it runs `seconds` from now (past the grace period for work due now)."""
    later = FakeClock(utc_now() + timedelta(seconds=seconds))
    return dataclasses.replace(wiring.graph().recovery, clock=later).run().recovered


def test_crash_between_claim_and_send_is_recovered_and_delivered_once(
    aws: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a message whose only timer was consumed by a dispatch that claimed it, then died
    message_id = publish(aws, receiver.url())
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=aws.resources.queue_url)
    _crashing_attempt(message_id, monkeypatch, "before_send")
    assert wiring.graph().message_store.get(message_id).state.value == "ACTIVE"
    assert receiver.requests == []
    # When the sweeper runs a minute later (the lease has expired by then)
    assert _recover_later(61) == 1
    _drain(aws)
    # Then the message is delivered exactly once, under its own id
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id
    assert wiring.graph().message_store.get(message_id).state.value == "DELIVERED"
    assert _recover() == {"recovered": 0}


def test_crash_after_send_before_record_redelivers_with_the_same_id(
    aws: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a message whose only timer was consumed by a dispatch that sent, then died
    message_id = publish(aws, receiver.url())
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=aws.resources.queue_url)  # the crashed invocation's timer is gone
    _crashing_attempt(message_id, monkeypatch, "after_send")
    assert len(receiver.requests) == 1
    # When recovery runs a minute later, after the lease expired
    assert _recover_later(61) == 1
    _drain(aws)
    # Then it is delivered again (the at-least-once window) under the same message id, and done
    first, second = receiver.wait_for(2)
    assert first.headers["Upstash-Message-Id"] == second.headers["Upstash-Message-Id"] == message_id
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message_id
    assert wiring.graph().message_store.get(message_id).state.value == "DELIVERED"
    assert _recover() == {"recovered": 0}


def _stored_without_timer(message_id: str, url: str) -> Message:
    """A message due five minutes ago whose timer was never armed (its process died)."""
    due = utc_now() - timedelta(minutes=5)
    message = Message(
        message_id=message_id,
        url=url,
        method="POST",
        headers={},
        body=b"x",
        due_at=due,
        created_at=due,
    )
    wiring.graph().message_store.create(message)
    return message


def test_timer_lost_between_record_and_arming_is_recovered(aws: Aws, receiver: Receiver) -> None:
    # Given a record written whose timer was never armed (the process died in between)
    message = _stored_without_timer("msg_lostTimer000000000000000", receiver.url())
    # When the sweeper runs, then it is re-armed and delivered
    assert _recover() == {"recovered": 1}
    assert _drain(aws) == 1
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message.message_id
    assert wiring.graph().message_store.get(message.message_id).state.value == "DELIVERED"


def test_on_time_and_finished_messages_are_left_alone(aws: Aws, receiver: Receiver) -> None:
    delivered = publish(aws, receiver.url())
    _drain(aws)
    call("POST", f"/v2/publish/{receiver.url()}", token=aws.token, headers={"Upstash-Delay": "1h"})
    assert wiring.graph().message_store.get(delivered).state.value == "DELIVERED"
    assert _recover() == {"recovered": 0}


def test_concurrent_recoveries_still_deliver_once(aws: Aws, receiver: Receiver) -> None:
    _stored_without_timer("msg_twoSweepers00000000000000", receiver.url())
    assert _recover() == {"recovered": 1}
    assert _recover() == {"recovered": 1}  # a second sweeper before any dispatch ran
    assert _drain(aws) == 2
    assert len(receiver.wait_for(2, timeout=0.5)) == 1


def test_recovery_reads_only_overdue_items(aws: Aws) -> None:
    # Given 200 messages due in an hour and 5 overdue ones
    now = utc_now()
    store = wiring.graph().message_store
    for n in range(205):
        overdue = n < 5
        store.create(
            Message(
                message_id=f"msg_scan{n:05d}",
                url="https://example.com/x",
                method="POST",
                headers={},
                body=b"",
                due_at=now + (timedelta(minutes=-10) if overdue else timedelta(hours=1)),
                created_at=now,
            )
        )
    # When recovery queries the wake index, counting what DynamoDB examined
    scanned: list[int] = []

    def count(parsed: dict[str, Any], **_: Any) -> None:
        scanned.append(int(parsed.get("ScannedCount", 0)))

    botocore_client = MessageItem._get_connection().connection.client
    botocore_client.meta.events.register("after-call.dynamodb.Query", count)
    try:
        found = wiring.graph().adapters.overdue.overdue(
            before=now - timedelta(minutes=1), limit=500
        )
    finally:
        botocore_client.meta.events.unregister("after-call.dynamodb.Query", count)
    # Then it found the 5 and examined only them, in one query per shard
    assert sorted(t.target_id for t in found) == [f"msg_scan{n:05d}" for n in range(5)]
    assert {t.kind for t in found} == {"message"}
    assert sum(scanned) == 5
    assert len(scanned) == 16


@pytest.mark.parametrize("crash_at", ["storing the callback", "arming the callback"])
def test_a_crash_after_the_record_never_loses_the_callback(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    # Given a message with a callback, whose dispatch dies after recording the attempt
    with Receiver() as app, Receiver() as cb:
        message_id = publish(aws, app.url(), **{"Upstash-Callback": cb.url("/cb")})
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.purge_queue(QueueUrl=aws.resources.queue_url)
        dispatcher = wiring.graph().dispatcher

        def crash(*_: Any, **__: Any) -> Any:
            raise CrashError(crash_at)

        if crash_at == "storing the callback":
            monkeypatch.setattr(MessageStore, "create", crash)
        else:
            monkeypatch.setattr(dispatcher.timers, "arm", crash)
        due = wiring.graph().message_store.get(message_id).due_at
        with contextlib.suppress(CrashError):
            dispatcher.handle(TimerPayload(message_id, due))
        monkeypatch.undo()
        assert len(app.wait_for(1)) == 1
        assert wiring.graph().message_store.get(message_id).state.value == "DELIVERED"
        # When the sweeper runs a minute later and the queue is drained
        _recover_later(61)
        _drain(aws)
        # Then the callback, written with the attempt's record, is delivered, once
        (callback,) = cb.wait_for(1)
        assert len(cb.wait_for(2, timeout=0.5)) == 1
    assert callback.path == "/cb"
