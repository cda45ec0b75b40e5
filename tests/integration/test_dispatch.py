"""Fired timers through `dispatch`: signed delivery to a real receiver, leases, races."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import standardwebhooks
from qstash import Receiver as QStashReceiver

from functions import wiring
from functions.domain.messages import Message, new_message_id
from functions.domain.signing import webhook_secret
from functions.domain.timers import TimerPayload
from functions.handlers import dispatch
from functions.local.lambda_context import LocalContext
from functions.services.delivery import Outcome
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.helpers.events import sqs_event
from tests.helpers.receiver import Receiver, Reply
from tests.integration.conftest import KEYS, Aws, delivery_pump, install_aws, publish


def _message(aws: Aws, message_id: str) -> dict[str, object]:
    response = call("GET", f"/v2/messages/{message_id}", token=aws.token)
    assert response.status == 200
    return dict(response.json)


def test_due_message_is_delivered_signed_both_ways(aws: Aws, receiver: Receiver) -> None:
    # Given a message published for now, with a forwarded header
    url = receiver.url("/offers?id=7")
    message_id = publish(
        aws, url, **{"Content-Type": "application/json", "Upstash-Forward-X-Tenant": "acme"}
    )
    # When its timer fires
    assert delivery_pump(aws).poll_once() == 1
    # Then the receiver got it once, verifiable by qstash.Receiver and standardwebhooks
    (request,) = receiver.wait_for(1)
    assert request.method == "POST"
    assert request.path == "/offers?id=7"
    assert request.body == b"payload"
    QStashReceiver(KEYS.current, KEYS.next).verify(
        signature=request.headers["Upstash-Signature"], body=request.body.decode(), url=url
    )
    standardwebhooks.Webhook(webhook_secret(KEYS.current)).verify(
        request.body, dict(request.headers), json_parse=False
    )
    assert request.headers["webhook-id"] == message_id
    assert request.headers["Upstash-Message-Id"] == message_id
    assert request.headers["Upstash-Retried"] == "0"
    assert request.headers["X-Tenant"] == "acme"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("duetime/")
    # And the API shows it delivered, with its log
    message = _message(aws, message_id)
    assert message["state"] == "DELIVERED"


def test_signature_from_the_next_key_also_verifies_after_rotation(
    aws: Aws, receiver: Receiver
) -> None:
    publish(aws, receiver.url())
    delivery_pump(aws).poll_once()
    (request,) = receiver.wait_for(1)
    # A receiver already rotated to the next key still accepts the Standard Webhooks signature.
    standardwebhooks.Webhook(webhook_secret(KEYS.next)).verify(
        request.body, dict(request.headers), json_parse=False
    )


def test_fifty_concurrent_timers_for_one_message_deliver_exactly_once(
    aws: Aws, receiver: Receiver
) -> None:
    # Given one due message, and the same timer fired 50 times at once
    message_id = publish(aws, receiver.url())
    body = TimerPayload(message_id, wiring.graph().message_store.get(message_id).due_at).to_json()
    barrier = threading.Barrier(50)
    results: list[dict[str, object]] = []

    def fire() -> None:
        barrier.wait()
        results.append(dispatch.handler(sqs_event([body]), LocalContext("duetime-dispatch")))

    threads = [threading.Thread(target=fire) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one request reached the receiver, and no invocation reported a failure
    receiver.wait_for(2, timeout=1.0)
    assert len(receiver.requests) == 1
    assert all(r == {"batchItemFailures": []} for r in results)
    assert _message(aws, message_id)["state"] == "DELIVERED"


def test_cancelled_message_is_never_sent_when_its_timer_fires(aws: Aws, receiver: Receiver) -> None:
    message_id = publish(aws, receiver.url())
    assert call("DELETE", f"/v2/messages/{message_id}", token=aws.token).status == 200
    assert delivery_pump(aws).poll_once() == 1
    receiver.wait_for(1, timeout=0.5)
    assert receiver.requests == []
    assert _message(aws, message_id)["state"] == "CANCELED"


def test_delivered_message_is_not_sent_again_by_a_duplicate_timer(
    aws: Aws, receiver: Receiver
) -> None:
    message_id = publish(aws, receiver.url())
    due = wiring.graph().message_store.get(message_id).due_at
    delivery_pump(aws).poll_once()
    receiver.wait_for(1)
    outcome = wiring.graph().dispatcher.handle(TimerPayload(message_id, due))
    assert outcome is Outcome.SKIPPED
    assert len(receiver.requests) == 1


def test_failed_attempt_is_retried_with_backoff_then_delivered(aws: Aws) -> None:
    # Given a receiver that fails once with 500, then succeeds
    def fail_once(_: object, index: int) -> Reply:
        return Reply(status=500, body=b"boom") if index == 0 else Reply()

    with Receiver(fail_once) as flaky:
        message_id = publish(aws, flaky.url())
        clock = FakeClock()
        dispatcher = dataclasses.replace(wiring.graph().dispatcher, clock=clock, sleep=clock.sleep)
        due = wiring.graph().message_store.get(message_id).due_at
        clock.now = due
        # When the first attempt fails
        assert dispatcher.handle(TimerPayload(message_id, due)) is Outcome.RETRY
        retry = wiring.graph().message_store.get(message_id)
        # Then it waits QStash's first default backoff (e^2.5 ≈ 12 s) in RETRY
        assert retry.state.value == "RETRY"
        assert retry.due_at - due == pytest.approx(timedelta(seconds=12.18), abs=timedelta(0.1))
        # And when the retry timer fires, the second attempt carries Upstash-Retried: 1
        clock.now = retry.due_at
        assert dispatcher.handle(TimerPayload(message_id, retry.due_at)) is Outcome.DELIVERED
        first, second = flaky.wait_for(2)
        assert first.headers["Upstash-Retried"] == "0"
        assert second.headers["Upstash-Retried"] == "1"
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == message_id
    message = _message(aws, message_id)
    assert message["state"] == "DELIVERED"
    assert message["retried"] == 1


def test_exhausted_message_is_failed_with_its_last_error(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=503, body=b"down for maintenance")) as down:
        message_id = publish(aws, down.url(), **{"Upstash-Retries": "0"})
        delivery_pump(aws).poll_once()
        down.wait_for(1)
    stored = wiring.graph().message_store.get(message_id)
    assert stored.state.value == "FAILED"
    assert stored.events[-1].response_status == 503
    assert stored.events[-1].response_body == "down for maintenance"
    assert stored.events[-1].error == "HTTP 503"


def test_early_timer_is_rearmed_for_the_remainder_not_delivered(
    aws: Aws, receiver: Receiver
) -> None:
    # Given a message due in 3 hours whose EventBridge timer fires two minutes early
    message_id = publish(aws, receiver.url(), **{"Upstash-Delay": "3h"})
    due = wiring.graph().message_store.get(message_id).due_at
    clock = FakeClock(due - timedelta(seconds=110))
    graph = dataclasses.replace(wiring.graph(), clock=clock)
    # When it fires (the AWS adapter re-arms an early wake before any service sees it)
    assert graph.wake(TimerPayload(message_id, due)) == "rearmed"
    # Then nothing is sent, and an SQS timer covers the remaining 110 s
    sqs = boto3.client("sqs", region_name="us-east-1")
    attrs = sqs.get_queue_attributes(
        QueueUrl=aws.resources.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "1"
    assert receiver.requests == []
    assert wiring.graph().message_store.get(message_id).state.value == "CREATED"


def test_timer_up_to_a_second_early_waits_out_the_remainder(aws: Aws, receiver: Receiver) -> None:
    message_id = publish(aws, receiver.url(), **{"Upstash-Delay": "30s"})
    due = wiring.graph().message_store.get(message_id).due_at
    clock = FakeClock(due - timedelta(milliseconds=700))
    dispatcher = dataclasses.replace(wiring.graph().dispatcher, clock=clock, sleep=clock.sleep)
    assert dispatcher.handle(TimerPayload(message_id, due)) is Outcome.DELIVERED
    assert clock.slept == [pytest.approx(0.7)]
    assert len(receiver.wait_for(1)) == 1


def test_expired_lease_is_reclaimed_and_the_message_completed(aws: Aws, receiver: Receiver) -> None:
    # Given an attempt that claimed the message and crashed before sending
    message_id = publish(aws, receiver.url())
    store = wiring.graph().message_store
    due = store.get(message_id).due_at
    store.claim(
        message_id, now=due, lease=timedelta(seconds=60), lease_token="dead", early=timedelta(0)
    )
    # When a timer fires while the lease is live, nothing is sent
    clock = FakeClock(due + timedelta(seconds=30))
    dispatcher = dataclasses.replace(wiring.graph().dispatcher, clock=clock)
    assert dispatcher.handle(TimerPayload(message_id, due)) is Outcome.SKIPPED
    # And once the lease expired, the next timer completes it (same message id)
    clock.advance(61)
    assert dispatcher.handle(TimerPayload(message_id, due)) is Outcome.DELIVERED
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id


def test_outside_dev_mode_a_loopback_destination_is_refused_at_delivery(
    aws: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUETIME_DEV_MODE", "false")
    install_aws()
    message_id = publish(aws, receiver.url())
    delivery_pump(aws).poll_once()
    receiver.wait_for(1, timeout=0.5)
    assert receiver.requests == []
    stored = wiring.graph().message_store.get(message_id)
    assert stored.state.value == "FAILED"
    assert "loopback" in (stored.events[-1].error or "")


def test_malformed_timer_is_dropped_not_retried_forever(aws: Aws) -> None:
    result = dispatch.handler(sqs_event(["not json"]), LocalContext("duetime-dispatch"))
    assert result == {"batchItemFailures": []}


def test_event_log_records_each_step(aws: Aws, receiver: Receiver) -> None:
    message_id = publish(aws, receiver.url())
    delivery_pump(aws).poll_once()
    receiver.wait_for(1)
    states = [e.state.value for e in wiring.graph().message_store.get(message_id).events]
    assert states == ["CREATED", "DELIVERED"]
    assert json.dumps(states)


def test_early_wake_goes_to_sqs_even_with_a_zero_horizon(aws: Aws) -> None:
    # Given timers that send everything through EventBridge (SQS horizon 0 s)
    from functions.adapters.aws.timers import TimerConfig, TimerKind, Timers

    config = TimerConfig(
        queue_url=aws.resources.queue_url,
        queue_arn=aws.resources.queue_arn,
        schedule_group=aws.resources.schedule_group,
        scheduler_role_arn=aws.resources.scheduler_role_arn,
        sqs_horizon=timedelta(0),
    )
    timers = Timers(
        sqs=boto3.client("sqs", region_name="us-east-1"),
        scheduler=boto3.client("scheduler", region_name="us-east-1"),
        config=config,
    )
    clock = FakeClock()
    payload = TimerPayload("msg_hop", clock.now + timedelta(seconds=110))
    # Then a first arming uses EventBridge, and the last hop of an early wake uses SQS
    assert timers.route(payload, now=clock.now) is TimerKind.EVENTBRIDGE
    assert timers.route(payload, now=clock.now, last_hop=True) is TimerKind.SQS_DELAY


def test_a_cookie_set_by_one_delivery_is_never_sent_with_the_next(aws: Aws) -> None:
    # Given a receiver that sets a cookie on every answer
    with Receiver(lambda _, __: Reply(headers={"Set-Cookie": "session=secret; Path=/"})) as r:
        for _ in range(2):
            publish(aws, r.url())
            delivery_pump(aws).poll_once()
        first, second = r.wait_for(2)
    # Then deliveries share no cookie jar: the second carries no Cookie header
    assert "cookie" not in first.headers
    assert "cookie" not in second.headers


def test_only_the_head_of_a_large_answer_is_kept(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(body=b"z" * 1_000_000)) as r:
        message_id = publish(aws, r.url())
        delivery_pump(aws).poll_once()
        r.wait_for(1)
    stored = wiring.graph().message_store.get(message_id)
    assert stored.state.value == "DELIVERED"
    assert stored.events[-1].response_body == "z" * 4096


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("Upstash-Forward-Upstash-Signature", "is set by duetime on every delivery"),
        ("Upstash-Forward-Upstash-Message-Id", "is set by duetime on every delivery"),
        ("Upstash-Forward-Webhook-Signature", "is set by duetime on every delivery"),
        ("Upstash-Forward-Content-Length", "frames the HTTP request"),
        ("Upstash-Forward-Transfer-Encoding", "frames the HTTP request"),
        ("Upstash-Forward-Host", "frames the HTTP request"),
    ],
)
def test_forwarded_headers_that_collide_with_duetimes_own_are_refused(
    aws: Aws, header: str, error: str
) -> None:
    response = call(
        "POST", "/v2/publish/https://example.com/x", token=aws.token, headers={header: "1"}
    )
    assert response.status == 400
    assert error in response.json["error"]
    assert header.removeprefix("Upstash-Forward-").lower() in response.json["error"].lower()


def test_a_forwarded_value_with_a_line_break_is_refused(aws: Aws) -> None:
    response = call(
        "POST",
        "/v2/publish/https://example.com/x",
        token=aws.token,
        headers={"Upstash-Forward-X-Evil": "a\r\nX-Injected: 1"},
    )
    assert response.status == 400
    assert "holds a line break or NUL" in response.json["error"]


def test_a_non_ascii_forwarded_value_is_delivered_as_its_bytes(
    aws: Aws, receiver: Receiver
) -> None:
    # Given a forwarded header with a non-ASCII value (it used to leave the message stuck)
    message_id = publish(aws, receiver.url(), **{"Upstash-Forward-X-Name": "José"})
    # When it is delivered
    delivery_pump(aws).poll_once()
    (request,) = receiver.wait_for(1)
    # Then the receiver gets the value, and the message is delivered
    assert request.headers["X-Name"] == "José"
    assert wiring.graph().message_store.get(message_id).state.value == "DELIVERED"


def test_a_stored_message_that_cannot_be_sent_fails_at_once_not_stuck(aws: Aws) -> None:
    # Given a message stored with a header no HTTP request can carry (as before publish checked)
    clock = FakeClock()
    message = dataclasses.replace(
        parse_test_message(clock.now), headers={"x-bad": "line\nbreak"}, max_retries=3
    )
    wiring.graph().message_store.create(message)
    # When its timer fires
    outcome = wiring.graph().dispatcher.handle(TimerPayload(message.message_id, message.due_at))
    # Then it fails at once with why, instead of retrying for ever
    stored = wiring.graph().message_store.get(message.message_id)
    assert outcome is Outcome.FAILED
    assert stored.state.value == "FAILED"
    assert "request cannot be built" in (stored.events[-1].error or "")


def parse_test_message(now: datetime) -> Message:
    return Message(
        message_id=new_message_id(),
        url="http://127.0.0.1:9/never",
        method="POST",
        headers={},
        body=b"x",
        due_at=now,
        created_at=now,
    )


def test_a_long_upstash_timeout_is_accepted_and_its_attempt_holds_a_lease_to_match(
    aws: Aws,
) -> None:
    leases: list[datetime | None] = []

    def look(_request: object, _index: int) -> Reply:
        # During the attempt: what lease does the stored message hold?
        leases.append(wiring.graph().message_store.get(message_id).lease_until)
        return Reply()

    with Receiver(look) as slow:
        message_id = publish(aws, slow.url("/long"), **{"Upstash-Timeout": "10m"})
        started = datetime.now(tz=UTC)
        assert delivery_pump(aws).poll_once() == 1
        slow.wait_for(1)
    (lease_until,) = leases
    assert lease_until is not None
    # 10 minutes, plus the dispatch margin and the lease's own: never shorter than the attempt
    assert timedelta(seconds=629) < lease_until - started < timedelta(seconds=640)
    assert _message(aws, message_id)["state"] == "DELIVERED"
