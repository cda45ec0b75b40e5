"""Timers due now start `dispatch` by an asynchronous Lambda Invoke, as `schedule` is deployed
(DUETIME_DISPATCH_FUNCTION): one request where the queue takes three. Lambda's async queue is
emulated (functions/local/lambda_async.py); the queue remains the road for everything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import standardwebhooks
from qstash import Receiver as QStashReceiver

from functions import wiring
from functions.adapters.aws import clients
from functions.adapters.aws.invoke import AsyncInvoke
from functions.adapters.aws.timers import InvokeUnavailableError
from functions.domain.signing import webhook_secret
from functions.domain.timers import STEP, TimerPayload
from functions.handlers import dispatch
from functions.local.lambda_async import AsyncInvokeEmulator, EmulatedFunction
from functions.local.lambda_context import LocalContext
from functions.local.pump import SchedulerClock, parse_at_expression
from functions.local.resources import DISPATCH_FUNCTION, DISPATCH_FUNCTION_ARN
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.helpers.events import invoke_event, invoke_failure_record, sqs_event
from tests.helpers.receiver import Receiver
from tests.integration.conftest import KEYS, Aws, delivery_pump, install_aws, publish

DISPATCH = DISPATCH_FUNCTION


def _queued(aws: Aws) -> dict[str, int]:
    attributes = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=aws.resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def _emulator(aws: Aws, handler: Any = dispatch.handler) -> AsyncInvokeEmulator:
    return AsyncInvokeEmulator(
        functions={
            DISPATCH: EmulatedFunction(
                handler=handler, on_failure_queue_url=aws.resources.queue_url
            )
        },
        sqs=boto3.client("sqs", region_name="us-east-1"),
    )


@pytest.fixture
def invoking(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The AWS graph as the deployed `schedule` function has it: due-now timers invoke."""
    monkeypatch.setenv("DUETIME_DISPATCH_FUNCTION", DISPATCH_FUNCTION_ARN)
    install_aws()
    return aws


def _published_with_its_timer_taken(aws: Aws, receiver: Receiver) -> tuple[str, int]:
    """A message due now whose timer went by the queue (no Invoke here); the timer is taken
    off the queue, as a consumer would, so only what the test hands dispatch can deliver it.
    Returns the message id and the timer's due time in ms."""
    message_id = publish(aws, receiver.url())
    body = boto3.client("sqs", region_name="us-east-1").receive_message(
        QueueUrl=aws.resources.queue_url, VisibilityTimeout=300
    )["Messages"][0]["Body"]
    return message_id, int(json.loads(body)["dueAt"])


def _state(message_id: str) -> str:
    return wiring.graph().message_store.get(message_id).state.value


def test_a_message_due_now_is_delivered_by_one_async_invoke_and_no_queue_message(
    invoking: Aws, receiver: Receiver
) -> None:
    emulator = _emulator(invoking)
    emulator.install()
    try:
        url = receiver.url("/now")
        message_id = publish(invoking, url)
        emulator.drain()
    finally:
        emulator.uninstall()
    # Then dispatch ran once, the queue never held the timer, and the delivery is signed
    assert emulator.accepted == 1
    assert _queued(invoking) == {"visible": 0, "delayed": 0}
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id
    QStashReceiver(KEYS.current, KEYS.next).verify(
        signature=request.headers["Upstash-Signature"], body=request.body.decode(), url=url
    )
    standardwebhooks.Webhook(webhook_secret(KEYS.current)).verify(
        request.body, dict(request.headers), json_parse=False
    )
    assert _state(message_id) == "DELIVERED"


def test_a_delayed_message_still_goes_by_the_queue(invoking: Aws, receiver: Receiver) -> None:
    emulator = _emulator(invoking)
    emulator.install()
    try:
        message_id = publish(invoking, receiver.url(), **{"Upstash-Delay": "30s"})
    finally:
        emulator.uninstall()
    # SQS holds the only precise delay; nothing was invoked
    assert emulator.accepted == 0
    assert _queued(invoking) == {"visible": 0, "delayed": 1}
    assert _state(message_id) == "CREATED"


def test_a_far_off_message_is_a_schedule_that_invokes_dispatch_not_the_queue(
    invoking: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 1-minute SQS horizon, so a 5-minute delay is far off and its last hop fits SQS
    # when dispatch runs at the wall clock's now (the dev server's short-horizon setting)
    monkeypatch.setenv("DUETIME_SQS_HORIZON_SECONDS", "60")
    install_aws()
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    group = invoking.resources.schedule_group
    message_id = publish(invoking, receiver.url("/far"), **{"Upstash-Delay": "5m"})
    # Then its EventBridge schedule targets the dispatch function, with the timer as input
    (listed,) = scheduler.list_schedules(GroupName=group)["Schedules"]
    schedule = scheduler.get_schedule(Name=listed["Name"], GroupName=group)
    assert schedule["Target"]["Arn"] == DISPATCH_FUNCTION_ARN
    assert json.loads(schedule["Target"]["Input"])["id"] == message_id
    # When it fires (EventBridge early, as ever), dispatch is invoked and arms the last hop
    emulator = _emulator(invoking)
    emulator.install()
    try:
        fire_at = parse_at_expression(schedule["ScheduleExpression"])
        scheduler_clock = SchedulerClock(
            scheduler=scheduler,
            sqs=boto3.client("sqs", region_name="us-east-1"),
            group=group,
            jitter=False,
            clock=FakeClock(fire_at),
            invoke=AsyncInvoke(function_name=DISPATCH_FUNCTION_ARN, region="us-east-1"),
        )
        assert scheduler_clock.tick() == 1
        emulator.drain()
    finally:
        emulator.uninstall()
    assert emulator.accepted == 1
    # Then the queue holds only the last hop, delayed, and no schedule is left
    assert _queued(invoking) == {"visible": 0, "delayed": 1}
    assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
    assert _state(message_id) == "CREATED"
    assert receiver.requests == []


def test_a_far_off_cron_fire_invokes_dispatch_and_a_far_off_flow_step_keeps_its_queue(
    invoking: Aws,
) -> None:
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    group = invoking.resources.schedule_group
    # Given a daily cron whose next fire is 30 minutes away, and a flow step due in 1 h
    at = datetime.now(UTC) + timedelta(minutes=30)
    cron = call(
        "POST",
        "/v2/schedules/https://example.com/cron",
        token=invoking.token,
        headers={"Upstash-Cron": f"{at.minute} {at.hour} * * *"},
    )
    flow = {
        "stateToken": "t",
        "steps": [{"id": "s", "destination": "https://example.com/step", "delay": "1h"}],
    }
    started = call("POST", "/v2/flows/far", token=invoking.token, body=json.dumps(flow))
    assert (cron.status, started.status) == (201, 201)
    # Then the fire's schedule invokes dispatch, and the step's sends to the step queue, which
    # only the step function consumes
    targets = {}
    for listed in scheduler.list_schedules(GroupName=group)["Schedules"]:
        target = scheduler.get_schedule(Name=listed["Name"], GroupName=group)["Target"]
        targets[json.loads(target["Input"])["kind"]] = target["Arn"]
    assert targets == {
        "schedule": DISPATCH_FUNCTION_ARN,
        "step": invoking.resources.step_queue_arn,
    }


def test_a_step_timer_never_targets_dispatch_even_through_the_delivery_timers(
    invoking: Aws,
) -> None:
    # Only the step function may run a step and arm the next: dispatch may not send to the
    # step queue. So even armed by the wrong port, a step's schedule names a queue.
    now = datetime.now(UTC)
    timers = wiring.graph().adapters.timers
    timers.arm(TimerPayload("f#1#0", now + timedelta(hours=1), kind=STEP), now=now)
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    group = invoking.resources.schedule_group
    (listed,) = scheduler.list_schedules(GroupName=group)["Schedules"]
    target = scheduler.get_schedule(Name=listed["Name"], GroupName=group)["Target"]
    assert target["Arn"] == invoking.resources.queue_arn


def test_an_invoke_that_cannot_be_made_leaves_the_timer_on_the_queue(
    invoking: Aws, receiver: Receiver
) -> None:
    # Given no function to invoke (moto has none by that name: the Invoke raises)
    message_id = publish(invoking, receiver.url())
    # Then the timer went by the queue, and the queue's consumer delivers it
    assert _queued(invoking) == {"visible": 1, "delayed": 0}
    assert delivery_pump(invoking).poll_once() == 1
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id
    assert _state(message_id) == "DELIVERED"


def test_after_a_failed_invoke_the_next_timers_go_by_the_queue_without_trying(
    invoking: Aws, receiver: Receiver
) -> None:
    # Given a Lambda endpoint that refuses (moto has no such function), Invokes counted
    invokes: list[str] = []

    def count(**_: Any) -> None:
        invokes.append("Invoke")

    clients.session().register("before-call.lambda.Invoke", count)
    try:
        # When three messages due now are published one after another
        ids = [publish(invoking, receiver.url(f"/{n}")) for n in range(3)]
    finally:
        clients.session().unregister("before-call.lambda.Invoke", count)
    # Then only the first tried the Invoke; all three timers are on the queue and delivered
    assert invokes == ["Invoke"]
    assert _queued(invoking) == {"visible": 3, "delayed": 0}
    assert delivery_pump(invoking).poll_once() == 3
    assert sorted(r.headers["Upstash-Message-Id"] for r in receiver.wait_for(3)) == sorted(ids)


def test_the_invoke_tries_again_once_its_cooldown_has_passed() -> None:
    now = [0.0]
    calls: list[bytes] = []

    class Refusing:
        def invoke(self, **call: Any) -> dict[str, int]:
            calls.append(call["Payload"])
            raise ConnectionError("endpoint unreachable")

    invoke = AsyncInvoke(
        function_name=DISPATCH,
        region="us-east-1",
        cooldown_seconds=30,
        monotonic=lambda: now[0],
        make_client=lambda _: Refusing(),  # type: ignore[arg-type,return-value]
    )
    with pytest.raises(ConnectionError):
        invoke("a")
    now[0] = 29.9
    with pytest.raises(InvokeUnavailableError):
        invoke("b")
    now[0] = 30.0
    with pytest.raises(ConnectionError):
        invoke("c")
    assert calls == [b"a", b"c"]


def test_an_invocation_whose_retries_run_out_is_delivered_from_the_queue(
    invoking: Aws, receiver: Receiver
) -> None:
    # Given a dispatch that crashes on every direct invocation (a timeout, say)
    crashes: list[dict[str, Any]] = []

    def crashing(event: dict[str, Any], _: Any) -> Any:
        crashes.append(event)
        raise TimeoutError("Task timed out")

    emulator = _emulator(invoking, handler=crashing)
    emulator.install()
    try:
        message_id = publish(invoking, receiver.url())
        emulator.drain()
    finally:
        emulator.uninstall()
    # Then Lambda tried it three times and put its destination record on the delivery queue
    assert len(crashes) == 3
    assert {event["id"] for event in crashes} == {message_id}
    assert _queued(invoking)["visible"] == 1
    # And the queue's consumer reads the timer out of the record and delivers it once
    assert delivery_pump(invoking).poll_once() == 1
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id
    assert _state(message_id) == "DELIVERED"


def test_dispatch_invoked_twice_for_one_message_delivers_it_once(
    invoking: Aws, receiver: Receiver
) -> None:
    # Given a published message, its timer left on the queue (no emulator: the Invoke failed)
    message_id, due_at_ms = _published_with_its_timer_taken(invoking, receiver)
    # When Lambda's at-least-once async queue runs the invocation twice
    context = LocalContext(function_name=DISPATCH)
    first = dispatch.handler(invoke_event(message_id, due_at_ms), context)
    second = dispatch.handler(invoke_event(message_id, due_at_ms), context)
    # Then the message is delivered once; the second finds it delivered
    assert first == {"outcome": "delivered"}
    assert second == {"outcome": "skipped"}
    receiver.wait_for(1)
    assert len(receiver.requests) == 1
    assert _state(message_id) == "DELIVERED"


def test_a_malformed_direct_invocation_is_dropped_not_retried(aws: Aws) -> None:
    result = dispatch.handler({"kind": "message"}, LocalContext(function_name=DISPATCH))
    assert result == {"outcome": "malformed"}


def test_a_failure_record_on_the_queue_is_read_as_its_timer(aws: Aws, receiver: Receiver) -> None:
    # Given a message whose timer reached the queue only as a destination record
    message_id, due_at_ms = _published_with_its_timer_taken(aws, receiver)
    event = sqs_event([invoke_failure_record(message_id, due_at_ms)])
    # When dispatch consumes it
    result = dispatch.handler(event, LocalContext(function_name=DISPATCH))
    # Then it is delivered, and the record is not reported as a failure
    assert result == {"batchItemFailures": []}
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id
    assert _state(message_id) == "DELIVERED"


def test_a_failure_record_invoked_directly_is_read_as_its_timer(
    aws: Aws, receiver: Receiver
) -> None:
    # Given a destination record replayed by hand as a direct invocation
    message_id, due_at_ms = _published_with_its_timer_taken(aws, receiver)
    record = json.loads(invoke_failure_record(message_id, due_at_ms))
    # Then dispatch delivers its timer rather than dropping it as malformed
    assert dispatch.handler(record, LocalContext(function_name=DISPATCH)) == {
        "outcome": "delivered"
    }
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Message-Id"] == message_id


def test_the_invoke_client_gives_up_in_seconds_so_the_queue_can_serve(aws: Aws) -> None:
    # SendMessage is the fallback: a hanging Lambda endpoint must not hold a publish for
    # botocore's default 60 s read timeout and 5 attempts.
    config = clients.lambda_("us-east-1").meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 3)
    assert config.retries["total_max_attempts"] == 1  # no retry: the queue is the retry
