"""A message and the rules of its life: which state may follow which.

States use QStash's vocabulary. A stored message is always in one of the `MessageState` values;
the event log additionally records IN_PROGRESS-style attempt events (see `EventState`).

    CREATED --claim--> ACTIVE --2xx--> DELIVERED
       |                 |----fail, retries left--> RETRY --claim--> ACTIVE ...
       |                 |----fail, exhausted-----> FAILED
       |                 '----lease expired-------> ACTIVE (re-claimed by a later timer/recover)
       '--cancel--> CANCELED   (also from RETRY and ACTIVE)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime


class MessageState(StrEnum):
    CREATED = "CREATED"
    ACTIVE = "ACTIVE"
    RETRY = "RETRY"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class EventState(StrEnum):
    """QStash event-log states (a superset of stored states)."""

    CREATED = "CREATED"
    ACTIVE = "ACTIVE"
    RETRY = "RETRY"
    ERROR = "ERROR"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELED = "CANCELED"
    IN_PROGRESS = "IN_PROGRESS"


TERMINAL: frozenset[MessageState] = frozenset(
    {MessageState.DELIVERED, MessageState.FAILED, MessageState.CANCELED}
)
# States a timer may claim from. ACTIVE is claimable only once its lease has expired.
CLAIMABLE: frozenset[MessageState] = frozenset({MessageState.CREATED, MessageState.RETRY})
CANCELLABLE: frozenset[MessageState] = frozenset(
    {MessageState.CREATED, MessageState.RETRY, MessageState.ACTIVE}
)

_TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    MessageState.CREATED: frozenset({MessageState.ACTIVE, MessageState.CANCELED}),
    MessageState.RETRY: frozenset({MessageState.ACTIVE, MessageState.CANCELED}),
    MessageState.ACTIVE: frozenset(
        {
            MessageState.ACTIVE,
            MessageState.DELIVERED,
            MessageState.RETRY,
            MessageState.FAILED,
            MessageState.CANCELED,
        }
    ),
    MessageState.DELIVERED: frozenset(),
    MessageState.FAILED: frozenset(),
    MessageState.CANCELED: frozenset(),
}


def can_transition(current: MessageState, new: MessageState) -> bool:
    """Whether `current -> new` is a legal step of a message's life."""
    return new in _TRANSITIONS[current]


def new_message_id() -> str:
    """QStash-style id: `msg_` and 27 url-safe random characters (opaque to callers)."""
    return "msg_" + secrets.token_urlsafe(20).replace("-", "x").replace("_", "y")


@dataclass(frozen=True)
class Event:
    """One line of a message's event log."""

    state: EventState
    at: datetime
    attempt: int = 0
    response_status: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None
    error: str | None = None
    next_delivery_at: datetime | None = None


@dataclass(frozen=True)
class Message:
    """A message as stored: what to send, when, and how far its delivery has got."""

    message_id: str
    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    due_at: datetime
    created_at: datetime
    state: MessageState = MessageState.CREATED
    max_retries: int = 3
    retry_delay: str | None = None
    timeout_seconds: int = 30
    callback: str | None = None
    failure_callback: str | None = None
    schedule_id: str | None = None
    label: str | None = None
    retried: int = 0
    lease_token: str | None = None
    lease_until: datetime | None = None
    events: tuple[Event, ...] = field(default=())
    # Settings that travel with the message but no query reads: callback options, dedup id.
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        return None
