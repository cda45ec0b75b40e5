"""Queues: FIFO delivery with at most `parallelism` messages of a queue in progress. Pure.

A queued message holds one of its queue's slots from the moment it is admitted until it is
DELIVERED, FAILED or cancelled, through all its retries, as on QStash: with parallelism 1, the
next message waits for the retries of the one before it. Members wait in enqueue order and
are admitted oldest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from functions.domain.clock import to_ms
from functions.domain.errors import ValidationError
from functions.domain.messages import Message

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
MAX_PARALLELISM = 100
UPSERT_FIELDS = frozenset({"queueName", "parallelism", "paused"})
QUEUE_OPTION = "queueName"  # where a message keeps the name of its queue


@dataclass(frozen=True)
class Queue:
    name: str
    parallelism: int
    paused: bool
    created_at: datetime
    updated_at: datetime


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
    """The queue place of a queued message (None for one outside any queue)."""
    name = message.options.get(QUEUE_OPTION)
    if not isinstance(name, str):
        return None
    created_us = int(message.created_at.timestamp() * 1_000_000)
    return Member(name, message.message_id, f"{created_us:017d}#{message.message_id}")


def is_queue_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


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
        "parallelism": queue.parallelism,
        "createdAt": to_ms(queue.created_at),
        "updatedAt": to_ms(queue.updated_at),
        "lag": counts.lag,
        "paused": queue.paused,
        "active": counts.active,
    }
