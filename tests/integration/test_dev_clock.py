"""The dev server's stand-in for EventBridge Scheduler: due one-time schedules fire into SQS."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import boto3

from functions import wiring
from functions.local.pump import SchedulerClock, parse_at_expression
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.integration.conftest import Aws


def _clock(aws: Aws, clock: FakeClock, *, jitter: bool) -> SchedulerClock:
    return SchedulerClock(
        scheduler=boto3.client("scheduler", region_name="us-east-1"),
        sqs=boto3.client("sqs", region_name="us-east-1"),
        group=aws.resources.schedule_group,
        jitter=jitter,
        clock=clock,
        rng=random.Random(7),
    )


def _far_message(aws: Aws) -> tuple[str, str]:
    response = call(
        "POST",
        "/v2/publish/https://example.com/x",
        token=aws.token,
        headers={"Upstash-Delay": "1h"},
    )
    message_id = str(response.json["messageId"])
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    (schedule,) = scheduler.list_schedules(GroupName=aws.resources.schedule_group)["Schedules"]
    expression = scheduler.get_schedule(
        Name=schedule["Name"], GroupName=aws.resources.schedule_group
    )["ScheduleExpression"]
    return message_id, expression


def _queued(aws: Aws) -> list[dict[str, object]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=aws.resources.queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_schedule_fires_into_the_queue_at_its_time_and_deletes_itself(aws: Aws) -> None:
    message_id, expression = _far_message(aws)
    fire_at = parse_at_expression(expression)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=aws.resources.queue_url)
    clock = FakeClock(fire_at - timedelta(seconds=1))
    scheduler_clock = _clock(aws, clock, jitter=False)
    # A second before its time: nothing
    assert scheduler_clock.tick() == 0
    # At its time: it fires once, into the delivery queue, and is gone
    clock.advance(1)
    assert scheduler_clock.tick() == 1
    assert scheduler_clock.tick() == 0
    (payload,) = _queued(aws)
    assert payload["id"] == message_id
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    assert scheduler.list_schedules(GroupName=aws.resources.schedule_group)["Schedules"] == []
    # And it fired 2 to 14 minutes ahead of the message's due time
    due = wiring.graph().message_store.get(message_id).due_at
    assert timedelta(minutes=2) <= due - fire_at < timedelta(minutes=14)


def test_jitter_fires_within_59_seconds_late(aws: Aws) -> None:
    _, expression = _far_message(aws)
    fire_at = parse_at_expression(expression)
    clock = FakeClock(fire_at)
    scheduler_clock = _clock(aws, clock, jitter=True)
    fired_after = None
    for second in range(61):
        clock.now = fire_at + timedelta(seconds=second)
        if scheduler_clock.tick():
            fired_after = second
            break
    assert fired_after is not None
    assert 0 <= fired_after <= 59
    # With seed 7 the emulated jitter is not zero: this run really exercised lateness.
    assert fired_after > 0


def test_cancelled_schedule_never_fires(aws: Aws) -> None:
    message_id, expression = _far_message(aws)
    clock = FakeClock(parse_at_expression(expression) - timedelta(minutes=1))
    scheduler_clock = _clock(aws, clock, jitter=False)
    assert scheduler_clock.tick() == 0  # it knows the schedule now
    assert call("DELETE", f"/v2/messages/{message_id}", token=aws.token).status == 200
    clock.advance(3600)
    assert scheduler_clock.tick() == 0
