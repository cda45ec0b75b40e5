"""Queues: FIFO delivery with at most `parallelism` messages of a queue in progress. Pure.

A queued message holds one of its queue's slots from the moment it is admitted until it is
DELIVERED, FAILED or cancelled, through all its retries, as on QStash: with parallelism 1, the
next message waits for the retries of the one before it. Members wait in enqueue order and
are admitted oldest first.

The same gate serves flow-control keys (functions.domain.flowcontrol): a "lane" is a queue or
a key. A key's lane may also cap how many are admitted per period (`rate`), and has no
parallelism limit unless one is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from functions.domain.clock import to_ms
from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from functions.domain.messages import Message

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
MAX_PARALLELISM = 100
UPSERT_FIELDS = frozenset({"queueName", "parallelism", "paused"})
QUEUE_OPTION = "queueName"  # where a message keeps the name of its queue
FLOW_CONTROL_OPTION = "flowControlKey"  # ... and its flow-control key
FLOW_CONTROL_SETTINGS_OPTION = "flowControl"  # {"parallelism", "rate", "period"}
FLOW_CONTROL_PREFIX = "flowControl:"  # a key's lane; queue names hold no ':', so never meet


@dataclass(frozen=True)
class Queue:
    """A lane: a queue, or a flow-control key (`FLOW_CONTROL_PREFIX` + key)."""

    name: str
    parallelism: int | None  # None: no limit (a flow-control key with only a rate)
    paused: bool
    created_at: datetime
    updated_at: datetime
    rate: int | None = None  # at most this many admitted per period
    period_seconds: int = 1
    rate_count: int = 0  # admitted in the period that started at period_start
    period_start: datetime | None = None
    pinned_parallelism: bool = False  # an operator's value: messages no longer change it
    pinned_rate: bool = False


@dataclass(frozen=True)
class LaneSettings:
    """Limits a message or an operator sets; None leaves that limit as it is."""

    parallelism: int | None = None
    rate: int | None = None
    period_seconds: int | None = None


@dataclass(frozen=True)
class Admission:
    """What one admission pass did: the ids it admitted, oldest first, and, when the rate
    held back a waiting member, that member and when the next period starts."""

    admitted: list[str]
    held_back: str | None = None
    next_period: datetime | None = None


@dataclass(frozen=True)
class QueueCounts:
    """A queue and how many of its messages wait and how many are in progress."""

    queue: Queue
    waiting: int
    active: int

    @property
    def lag(self) -> int:
        """QStash's "unprocessed messages": waiting or in progress."""
        return self.waiting + self.active


class MemberState(StrEnum):
    WAITING = "WAITING"  # enqueued, not yet admitted
    ACTIVE = "ACTIVE"  # admitted: holds a slot until the message finishes


@dataclass(frozen=True)
class Member:
    """A message's place in its queue. `order` sorts members in enqueue order."""

    queue: str
    message_id: str
    order: str


def member_of(message: Message) -> Member | None:
    """The lane place of a queued or flow-controlled message (None for one in neither)."""
    name = message.options.get(QUEUE_OPTION)
    key = message.options.get(FLOW_CONTROL_OPTION)
    if isinstance(key, str):
        name = lane_name(key)
    if not isinstance(name, str):
        return None
    created_us = int(message.created_at.timestamp() * 1_000_000)
    return Member(name, message.message_id, f"{created_us:017d}#{message.message_id}")


def is_queue_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def lane_name(key: str) -> str:
    """The lane of a flow-control key."""
    return FLOW_CONTROL_PREFIX + key


def is_flow_control_lane(name: str) -> bool:
    return name.startswith(FLOW_CONTROL_PREFIX)


def lane_settings_of(message: Message) -> LaneSettings | None:
    """The limits a flow-controlled message brings to its lane (None for a queued one)."""
    if FLOW_CONTROL_OPTION not in message.options:
        return None
    values = message.options.get(FLOW_CONTROL_SETTINGS_OPTION) or {}
    return LaneSettings(
        parallelism=values.get("parallelism"),
        rate=values.get("rate"),
        period_seconds=values.get("period") if values.get("rate") is not None else None,
    )


def check_queue_name(name: str) -> str:
    if not is_queue_name(name):
        raise ValidationError(
            f"queue name must be 1-128 letters, digits, '_', '-' or '.', got {name[:200]!r}"
        )
    return name


@dataclass(frozen=True)
class QueueSettings:
    name: str
    parallelism: int
    paused: bool


def parse_upsert(body: dict[str, Any] | None) -> QueueSettings:
    """`{"queueName", "parallelism", "paused"}` as the SDKs send it; parallelism defaults to 1."""
    if body is None:
        raise ValidationError('the body must be {"queueName": ..., "parallelism": ...}')
    unknown = sorted(set(body) - UPSERT_FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(UPSERT_FIELDS))}"
        )
    name = body.get("queueName")
    if not isinstance(name, str):
        raise ValidationError("queueName is required: the name of the queue")
    parallelism = body.get("parallelism", 1)
    if (
        isinstance(parallelism, bool)
        or not isinstance(parallelism, int)
        or not 1 <= parallelism <= MAX_PARALLELISM
    ):
        raise ValidationError(
            f"parallelism must be an integer from 1 to {MAX_PARALLELISM}, got {parallelism!r}"
        )
    paused = body.get("paused", False)
    if not isinstance(paused, bool):
        raise ValidationError(f"paused must be true or false, got {paused!r}")
    return QueueSettings(check_queue_name(name), parallelism, paused)


def queue_view(counts: QueueCounts) -> dict[str, Any]:
    """A queue as the SDKs parse it (`name`, `parallelism`, `createdAt`, `updatedAt`, `lag`,
    `paused`), with duetime's `active` beside them."""
    queue = counts.queue
    return {
        "name": queue.name,
        "parallelism": queue.parallelism or 1,
        "createdAt": to_ms(queue.created_at),
        "updatedAt": to_ms(queue.updated_at),
        "lag": counts.lag,
        "paused": queue.paused,
        "active": counts.active,
    }


def free_slots(lane: Queue, active: int) -> int:
    """How many more the lane's parallelism admits now (a large number when unlimited)."""
    if lane.parallelism is None:
        return MAX_UNLIMITED_BATCH
    return lane.parallelism - active


# An unlimited lane still admits in bounded passes: each pass's ids are armed at once.
MAX_UNLIMITED_BATCH = 100


def period_ended(lane: Queue, now: datetime) -> bool:
    """Whether an admission now starts a new rate period (none started yet, or it ran out)."""
    return lane.period_start is None or now >= lane.period_start + timedelta(
        seconds=lane.period_seconds
    )


def rate_window(lane: Queue, now: datetime) -> tuple[datetime, int]:
    """The period `now` falls in (its start) and how many it has admitted so far."""
    if lane.rate is None or lane.period_start is None or period_ended(lane, now):
        return now, 0
    return lane.period_start, lane.rate_count


def rate_room(lane: Queue, now: datetime) -> int:
    """How many more the rate admits in the current period (a large number when none)."""
    if lane.rate is None:
        return MAX_UNLIMITED_BATCH
    return lane.rate - rate_window(lane, now)[1]


def next_period(lane: Queue, now: datetime) -> datetime:
    start, _ = rate_window(lane, now)
    return start + timedelta(seconds=lane.period_seconds)
