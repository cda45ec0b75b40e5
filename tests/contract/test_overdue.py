"""OverdueScan: the timers of live work whose wake time has passed, each with its due time."""

from __future__ import annotations

from datetime import timedelta

from functions.domain.flows import StepStatus
from functions.domain.messages import MessageState
from functions.domain.timers import MESSAGE, SCHEDULE, STEP, TimerPayload, step_target
from functions.ports import Adapters
from tests.contract.builders import (
    LEASE,
    T0,
    at,
    claim,
    created,
    deliver,
    fail,
    new_flow,
    new_schedule,
    retrying,
)

BEFORE = at(600)  # the scan's cutoff: T0 + 10 minutes


def test_an_empty_store_has_nothing_overdue(backend: Adapters) -> None:
    # Given nothing stored
    # Then nothing is overdue
    assert backend.overdue.overdue(before=BEFORE, limit=100) == []


def test_the_scan_returns_only_overdue_live_work_with_its_due_time(backend: Adapters) -> None:
    messages = backend.messages
    # Given messages: one overdue, one due exactly at the cutoff, one in the future
    overdue = created(messages, due=at(60))
    created(messages, due=BEFORE)
    created(messages, due=at(1200))
    # And one claimed (its lease lives), one waiting to retry at T0+3min
    active = created(messages, due=at(120))
    claim(messages, active.message_id, now=at(120), token="lease-1")
    retry = created(messages, due=at(30))
    claim(messages, retry.message_id, now=at(30), token="lease-2")
    messages.record(
        retry.message_id,
        lease_token="lease-2",
        state=MessageState.RETRY,
        event=retrying(at(31), at(180)),
        retried=1,
        next_due=at(180),
    )
    # And finished ones that were due long ago: delivered, failed, cancelled
    for finish in (deliver, fail):
        finish(messages, created(messages, due=T0).message_id, now=T0)
    messages.cancel(created(messages, due=T0).message_id, now=T0)
    # And schedules: one waiting for T0+5min, one for T0+1h, one paused
    backend.schedules.upsert(new_schedule("every-5"))
    backend.schedules.upsert(new_schedule("hourly", cron="0 * * * *"))
    backend.schedules.upsert(new_schedule("paused"))
    backend.schedules.set_paused("paused", paused=True, next_fire=None)
    # And flow steps: one armed for T0+2min, one for T0+30min, one sent and moved past
    for flow_id in ("due-flow", "later-flow", "done-flow"):
        backend.flows.create(new_flow(flow_id), now=T0)
    backend.flows.arm_step("due-flow", 0, run=1, due_at=at(120), now=T0)
    backend.flows.arm_step("later-flow", 0, run=1, due_at=at(1800), now=T0)
    backend.flows.arm_step("done-flow", 0, run=1, due_at=at(10), now=T0)
    done = backend.flows.get("done-flow")
    assert backend.flows.claim(done, 0, run=1, now=at(10), lease=LEASE, lease_token="s")
    assert backend.flows.record_attempt(
        "done-flow",
        0,
        step=done.definition.steps[0],
        lease_token="s",
        status=StepStatus.SENT,
        now=at(11),
        response_status=200,
        error=None,
    )
    assert backend.flows.advance(done, 0, run=1, now=at(12))

    # When the scan looks for what is overdue before T0+10min
    found = backend.overdue.overdue(before=BEFORE, limit=100)

    # Then it finds exactly the overdue live work, each timer with the exact time it waits for
    assert sorted(found, key=lambda p: (p.due_at, p.kind, p.target_id)) == [
        TimerPayload(overdue.message_id, at(60), kind=MESSAGE),
        TimerPayload(active.message_id, at(120), kind=MESSAGE),
        TimerPayload(step_target("due-flow", 0, 0), at(120), kind=STEP),
        TimerPayload(retry.message_id, at(180), kind=MESSAGE),
        TimerPayload("every-5", T0 + timedelta(minutes=5), kind=SCHEDULE),
    ]


def test_a_finished_message_leaves_the_scan(backend: Adapters) -> None:
    # Given an overdue message that is found by the scan
    message = created(backend.messages, due=T0)
    assert backend.overdue.overdue(before=BEFORE, limit=100) == [
        TimerPayload(message.message_id, T0, kind=MESSAGE)
    ]
    # When it is delivered
    deliver(backend.messages, message.message_id, now=at(1))
    # Then the scan no longer returns it
    assert backend.overdue.overdue(before=BEFORE, limit=100) == []


def test_a_retried_step_moves_in_the_scan_and_a_failed_one_leaves_it(backend: Adapters) -> None:
    # Given an armed, overdue step that is found by the scan
    backend.flows.create(new_flow("flow-1"), now=T0)
    backend.flows.arm_step("flow-1", 0, run=1, due_at=at(5), now=T0)
    target = TimerPayload(step_target("flow-1", 0, 0), at(5), kind=STEP)
    assert backend.overdue.overdue(before=BEFORE, limit=100) == [target]
    # When its attempt retries, the scan follows the new due time
    flow = backend.flows.get("flow-1")
    step = flow.definition.steps[0]
    backend.flows.claim(flow, 0, run=1, now=at(5), lease=LEASE, lease_token="l1")
    backend.flows.record_attempt(
        "flow-1",
        0,
        step=step,
        lease_token="l1",
        status=StepStatus.RETRY,
        now=at(6),
        response_status=503,
        error="HTTP 503",
        retry_at=at(66),
    )
    assert backend.overdue.overdue(before=BEFORE, limit=100) == [
        TimerPayload(step_target("flow-1", 0, 0), at(66), kind=STEP)
    ]
    # When it finally fails
    backend.flows.claim(flow, 0, run=1, now=at(66), lease=LEASE, lease_token="l2")
    backend.flows.record_attempt(
        "flow-1",
        0,
        step=step,
        lease_token="l2",
        status=StepStatus.FAILED,
        now=at(67),
        response_status=500,
        error="HTTP 500",
    )
    # Then the scan no longer returns it
    assert backend.overdue.overdue(before=BEFORE, limit=100) == []
