"""Both adapters give equal records for one scripted sequence of operations."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

from functions.domain.flows import FlowState, FlowStatus, StepStatus
from functions.domain.messages import Message, MessageState
from functions.domain.schedules import advance, fire_message
from functions.ports import Adapters, IdempotencyState, Listing
from tests.contract.builders import (
    LEASE,
    T0,
    at,
    claim,
    delivered,
    essence,
    new_flow,
    new_message,
    new_schedule,
    retrying,
)


def _without_lease_token(message: Message) -> Message:
    return replace(message, lease_token=None)


def _message_script(backend: Adapters) -> list[Message]:
    """create -> claim -> record RETRY -> claim -> record DELIVERED, each with a random lease
    token; every record returned and read back along the way."""
    store = backend.messages
    seen: list[Message] = []
    message = new_message("msg_script", due=at(10), options={"deduplicationId": "d-1"})
    store.create(message)
    seen.append(store.get(message.message_id))

    first = secrets.token_hex(8)
    seen += [claim(store, message.message_id, now=at(10), token=first)]
    seen.append(store.get(message.message_id))
    seen += [
        store.record(
            message.message_id,
            lease_token=first,
            state=MessageState.RETRY,
            event=retrying(at(11), at(71)),
            retried=1,
            next_due=at(71),
        )
    ]
    seen.append(store.get(message.message_id))

    second = secrets.token_hex(8)
    seen += [claim(store, message.message_id, now=at(71), token=second)]
    seen.append(store.get(message.message_id))
    seen += [
        store.record(
            message.message_id,
            lease_token=second,
            state=MessageState.DELIVERED,
            event=delivered(at(72), attempt=2),
            retried=1,
        )
    ]
    seen.append(store.get(message.message_id))
    seen += store.get_many([message.message_id])
    return [_without_lease_token(m) for m in seen]


def test_a_message_through_retry_and_delivery_reads_back_equal_on_both(
    aws_backend: Adapters, sqlite_backend: Adapters
) -> None:
    # Given both backends, empty
    # When the same message goes through create, claim, RETRY, claim, DELIVERED on each
    on_aws = _message_script(aws_backend)
    on_sqlite = _message_script(sqlite_backend)
    # Then every record returned or read back is equal, step by step (lease tokens aside)
    assert [m.state for m in on_aws] == [
        MessageState.CREATED,
        *[MessageState.ACTIVE] * 2,
        *[MessageState.RETRY] * 2,
        *[MessageState.ACTIVE] * 2,
        *[MessageState.DELIVERED] * 3,
    ]
    for step, (aws, sqlite) in enumerate(zip(on_aws, on_sqlite, strict=True)):
        assert aws == sqlite, f"record {step} differs"
    # And what the listings and the pending ids say is equal too
    for backend in (aws_backend, sqlite_backend):
        assert backend.messages.newest(Listing.LOG, cursor=None, count=5).ids == ["msg_script"]
        assert backend.messages.pending_ids() == []


def _flow_script(backend: Adapters) -> tuple[list[FlowState], list[IdempotencyState | None]]:
    """A flow's first step armed, retried once, sent and advanced past; then the flow halted
    and restarted."""
    flows = backend.flows
    states: list[FlowState] = []
    keys: list[IdempotencyState | None] = []

    def snapshot() -> None:
        states.append(flows.get("flow-1"))
        keys.append(flows.idempotency("flow-1:a"))

    flows.create(new_flow("flow-1"), now=T0)
    snapshot()
    flow = flows.get("flow-1")
    step = flow.definition.steps[0]
    flows.arm_step("flow-1", 0, run=1, due_at=at(5), now=T0)
    snapshot()
    for attempt, (status, code) in enumerate([(StepStatus.RETRY, 503), (StepStatus.SENT, 200)]):
        token = secrets.token_hex(8)
        now = at(5 + 60 * attempt)
        assert flows.claim(flow, 0, run=1, now=now, lease=LEASE, lease_token=token)
        snapshot()
        assert flows.record_attempt(
            "flow-1",
            0,
            step=step,
            lease_token=token,
            status=status,
            now=now + timedelta(seconds=1),
            response_status=code,
            error=None if code == 200 else "HTTP 503",
            retry_at=at(65) if status is StepStatus.RETRY else None,
        )
        snapshot()
    assert flows.advance(flow, 0, run=1, now=at(70))
    snapshot()
    assert flows.set_status("flow-1", FlowStatus.HALTED, reason="stale_state", run=1, now=at(71))
    snapshot()
    flows.restart(flows.get("flow-1"), now=at(72))
    snapshot()
    return states, keys


def test_a_flow_step_through_retry_and_send_reads_back_equal_on_both(
    aws_backend: Adapters, sqlite_backend: Adapters
) -> None:
    # Given both backends, empty
    # When the same flow runs the same script on each
    aws_states, aws_keys = _flow_script(aws_backend)
    sqlite_states, sqlite_keys = _flow_script(sqlite_backend)
    # Then the flow, its steps, their ledgers and the key read back equal at every step
    assert len(aws_states) == len(sqlite_states) == 9
    for step, (aws, sqlite) in enumerate(zip(aws_states, sqlite_states, strict=True)):
        assert aws == sqlite, f"flow state {step} differs"
    assert aws_keys == sqlite_keys


def test_a_schedule_through_fire_and_pause_reads_back_equal_on_both(
    aws_backend: Adapters, sqlite_backend: Adapters
) -> None:
    def script(backend: Adapters) -> list[tuple[object, ...]]:
        seen: list[tuple[object, ...]] = []
        backend.schedules.upsert(new_schedule("nightly"))
        seen.append(essence(backend.schedules.get("nightly")))
        schedule = backend.schedules.get("nightly")
        assert schedule.next_fire is not None
        fired_at = schedule.next_fire
        step = advance(schedule, fired_at, now=fired_at)
        message = fire_message(schedule, fired_at, now=fired_at)
        assert backend.schedules.fire(
            schedule,
            fired_at=fired_at,
            messages=(message,),
            next_fire=step.next_fire,
            missed=step.missed,
            now=fired_at,
        )
        seen.append(essence(backend.schedules.get("nightly")))
        backend.schedules.set_paused("nightly", paused=True, next_fire=None)
        seen.append(essence(backend.schedules.get("nightly")))
        backend.schedules.upsert(new_schedule("nightly", now=at(3600), body=b"tock"))
        seen.append(essence(backend.schedules.get("nightly")))
        seen.append((backend.messages.get(message.message_id),))
        return seen

    # Given both backends, empty
    # When the same schedule is created, fired, paused and replaced on each
    # Then it reads back equal after every step, and so does the fire's message
    assert script(aws_backend) == script(sqlite_backend)
