"""Records and helpers the contract tests share: a fixed clock, messages, schedules, flows,
and a starting gun for races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from functions.domain.flows import FlowDefinition, parse_flow
from functions.domain.messages import Event, EventState, Message, MessageState, new_message_id
from functions.domain.publish import PublishLimits
from functions.domain.schedules import Schedule, parse_schedule
from functions.domain.timers import EARLY_TOLERANCE
from functions.ports import MessageStore

# Whole seconds: DynamoDB keeps wake times in ms, SQLite in µs; both are exact on these.
T0 = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
EARLY = EARLY_TOLERANCE
LIMITS = PublishLimits(max_body_bytes=1_000_000)

T = TypeVar("T")


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


# --- messages -------------------------------------------------------------------------------


def new_message(
    message_id: str | None = None, *, due: datetime = T0, created: datetime = T0, **fields: Any
) -> Message:
    values: dict[str, Any] = {
        "url": "https://example.com/hook",
        "method": "POST",
        "headers": {"content-type": "text/plain", "x-team": "billing"},
        "body": b"hello",
        **fields,
    }
    return Message(
        message_id=message_id or new_message_id(), due_at=due, created_at=created, **values
    )


def stored(message: Message) -> Message:
    """What a store holds right after `create`: CREATED, with its CREATED event."""
    return replace(
        message,
        state=MessageState.CREATED,
        retried=0,
        events=(Event(EventState.CREATED, message.created_at),),
    )


def created(store: MessageStore, **fields: Any) -> Message:
    message = new_message(**fields)
    store.create(message)
    return message


def claim(store: MessageStore, message_id: str, *, now: datetime, token: str) -> Message:
    return store.claim(message_id, now=now, lease=LEASE, lease_token=token, early=EARLY)


def delivered(now: datetime, *, attempt: int = 1) -> Event:
    return Event(
        EventState.DELIVERED,
        now,
        attempt=attempt,
        response_status=200,
        response_headers={"content-type": "text/plain"},
        response_body="ok",
    )


def retrying(now: datetime, next_due: datetime, *, attempt: int = 1) -> Event:
    return Event(
        EventState.ERROR,
        now,
        attempt=attempt,
        response_status=503,
        response_body="busy",
        error="HTTP 503",
        next_delivery_at=next_due,
    )


def failed(now: datetime, *, attempt: int = 1) -> Event:
    return Event(EventState.FAILED, now, attempt=attempt, response_status=500, error="HTTP 500")


def deliver(store: MessageStore, message_id: str, *, now: datetime) -> Message:
    """Claim and record a delivery."""
    claim(store, message_id, now=now, token="deliver")
    return store.record(
        message_id,
        lease_token="deliver",
        state=MessageState.DELIVERED,
        event=delivered(now),
        retried=0,
    )


def fail(store: MessageStore, message_id: str, *, now: datetime) -> Message:
    """Claim and record a final failure (the message goes to the DLQ)."""
    claim(store, message_id, now=now, token="fail")
    return store.record(
        message_id, lease_token="fail", state=MessageState.FAILED, event=failed(now), retried=0
    )


# --- schedules and flows --------------------------------------------------------------------


def new_schedule(
    schedule_id: str, *, now: datetime = T0, cron: str = "*/5 * * * *", body: bytes = b"tick"
) -> Schedule:
    return parse_schedule(
        schedule_id=schedule_id,
        destination="https://example.com/cron",
        headers={"Upstash-Cron": cron, "Content-Type": "text/plain", "Upstash-Retries": "2"},
        body=body,
        now=now,
        limits=LIMITS,
    )


def essence(schedule: Schedule) -> tuple[object, ...]:
    """A schedule as its readers use it: all but the template's id and times (each fire sets
    its own) and `extra` (only the embedded engine stores it)."""
    template = replace(
        schedule.template, message_id="", due_at=schedule.created_at, created_at=schedule.created_at
    )
    return (
        schedule.schedule_id,
        str(schedule.cron),
        template,
        schedule.delay,
        schedule.created_at,
        schedule.next_fire,
        schedule.paused,
        schedule.last_fire,
        schedule.last_message_id,
        schedule.missed_fires,
        schedule.last_missed_at,
        schedule.version,
    )


def new_flow(flow_id: str, *, key: str | None = None) -> FlowDefinition:
    """Two steps: `a` expects t0 and sets t1, `b` expects t1 and sets t2. `key` names step
    a's idempotency key (by default the flow's own `<flow>:a`)."""
    first: dict[str, Any] = {
        "id": "a",
        "destination": "https://example.com/a",
        "setStateToken": "t1",
        "body": {"step": 1},
    }
    if key is not None:
        first["idempotencyKey"] = key
    second = {
        "id": "b",
        "destination": "https://example.com/b",
        "expectStateToken": "t1",
        "setStateToken": "t2",
    }
    return parse_flow(flow_id, {"stateToken": "t0", "steps": [first, second]}, default_retries=3)


# --- races ----------------------------------------------------------------------------------


def race(count: int, action: Callable[[int], T]) -> list[T | Exception]:
    """Run `action(0..count-1)` on `count` threads released at once; each outcome is the
    result or the exception raised."""
    gun = threading.Barrier(count, timeout=30)

    def run(index: int) -> T | Exception:
        gun.wait()
        try:
            return action(index)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
