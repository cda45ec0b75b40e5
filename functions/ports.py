"""The seams between services and backends: one Protocol per store, the timer port, and the
storage-neutral records and errors that cross them.

Two backends implement every port: `adapters/aws` (DynamoDB, SQS, EventBridge Scheduler) and
`adapters/sqlite` (the embedded engine of `duetime dev`). tests/contract runs one suite against
both. Nothing here knows a table, a queue or a row.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from functions.domain.errors import ConflictError, DuetimeError, ValidationError
from functions.domain.timers import STEP, TimerPayload

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime, timedelta

    from functions.domain.flows import (
        FlowDefinition,
        FlowState,
        FlowStatus,
        StepDefinition,
        StepStatus,
    )
    from functions.domain.messages import Event, Message, MessageState
    from functions.domain.queues import Admission, LaneSettings, Member, MemberState, QueueCounts
    from functions.domain.schedules import Schedule
    from functions.domain.signing import SigningKeys
    from functions.domain.topics import Topic

# --- errors every adapter maps its own failures onto -------------------------------------------


class ConditionFailedError(ConflictError):
    """A conditional write found the item in another state (a lost race is a normal outcome)."""


class ClaimRejectedError(ConflictError):
    """The claim lost: the message is finished, not yet due, or leased by a live attempt."""

    def __init__(self, message: Message | None) -> None:
        state = message.state.value if message else "missing"
        super().__init__(f"claim rejected: message is {state}")
        self.message = message


class DuplicateMessageError(ConflictError):
    """A deduplication id seen inside its window; carries the first message's id."""

    def __init__(self, first_message_id: str) -> None:
        super().__init__(f"duplicate of {first_message_id}")
        self.first_message_id = first_message_id


class StorageUnavailableError(DuetimeError):
    """503: the backend cannot take writes now (disk full, database locked); nothing was
    written, and the same request may be repeated."""

    status_code = 503


# --- neutral records ------------------------------------------------------------------------


@dataclass(frozen=True)
class DedupClaim:
    key: str
    now: datetime
    window: timedelta


class Listing(StrEnum):
    """The newest-first listings a message store keeps."""

    LOG = "LOG"  # every message, for the event log
    DLQ = "DLQ"  # failed messages still in the dead-letter queue


@dataclass(frozen=True)
class Page:
    """Message ids newest first, and the opaque cursor of the next page (None at the end).

    `after[i]` is the cursor that continues just past `ids[i]`: a filtered listing that
    stops inside a page resumes exactly there."""

    ids: list[str]
    cursor: str | None
    after: list[str] = field(default_factory=list)


def encode_cursor(position: str) -> str:
    """Wrap an adapter's position so API clients cannot read or build one."""
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The adapter's position in a cursor; anything not made by `encode_cursor` is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"cursor {cursor[:40]!r} is not one this API returned") from exc
    if "#" not in position:  # every adapter's position is "<sort key>#<id>"
        raise ValidationError(f"cursor {cursor[:40]!r} is not one this API returned")
    return position


class IdempotencyStatus(StrEnum):
    IN_FLIGHT = "IN_FLIGHT"
    RETRY = "RETRY"
    SENT = "SENT"


@dataclass(frozen=True)
class IdempotencyState:
    status: IdempotencyStatus
    lease_until: datetime | None
    # Who holds the key: the flow and step that claimed (and maybe sent) it.
    flow_id: str | None = None
    step_id: str | None = None


@dataclass(frozen=True)
class KillSwitch:
    scope: str
    reason: str | None
    since: datetime


# --- stores -------------------------------------------------------------------------------


class MessageStore(Protocol):
    """Messages, their dedup ids and listings. Every status change is one conditional write."""

    def create(
        self, message: Message, *, dedup: DedupClaim | None = None, parked: bool = False
    ) -> None:
        """Write a new message with its CREATED event (ConditionFailedError if the id exists).
        With a dedup claim, the message and the claim are written atomically; a live claim
        raises DuplicateMessageError with the first message id. A `parked` message waits in
        a queue, which wakes it: it enters no wake index."""
        ...

    def get(self, message_id: str) -> Message: ...

    def find(self, message_id: str) -> Message | None: ...

    def get_many(self, message_ids: list[str]) -> list[Message]:
        """The messages that exist among `message_ids`, in the order asked."""
        ...

    def claim(
        self,
        message_id: str,
        *,
        now: datetime,
        lease: timedelta,
        lease_token: str,
        early: timedelta,
    ) -> Message:
        """Lease a message for one attempt: it waits (CREATED/RETRY) and is due by now+early,
        or is ACTIVE with an expired lease. Otherwise ClaimRejectedError with the record."""
        ...

    def record(
        self,
        message_id: str,
        *,
        lease_token: str,
        state: MessageState,
        event: Event,
        retried: int,
        next_due: datetime | None = None,
        follow_ups: tuple[Message, ...] = (),
    ) -> Message:
        """Record an attempt's outcome; only the lease holder may (ConditionFailedError).

        `follow_ups` (the attempt's callbacks) are created in the same write, so a crash
        cannot record the attempt and lose them: once written, they are live work that
        recovery re-arms if their timer is never armed."""
        ...

    def extend_lease(self, message_id: str, *, lease_token: str, until: datetime) -> None:
        """Lengthen the lease of a claim whose attempt may take longer than a claim's first
        lease (a long Upstash-Timeout). Only the lease holder may (ConditionFailedError)."""
        ...

    def park(self, message_id: str, *, lease_token: str, state: MessageState) -> None:
        """Hand back a claim that its queue did not admit: the message waits again in `state`
        (CREATED or RETRY) and leaves the wake index, since its queue now wakes it. Only the
        lease holder may (ConditionFailedError)."""
        ...

    def cancel(self, message_id: str, *, now: datetime) -> bool:
        """Cancel a pending message: True if this call did, False if it already was;
        ConflictError if it is finished; NotFoundError if unknown."""
        ...

    def pending_ids(self) -> list[str]:
        """Ids of every message some timer must still act on."""
        ...

    def newest(self, listing: Listing, *, cursor: str | None, count: int) -> Page: ...

    def in_dlq(self, message_id: str) -> Message:
        """A failed message still in the DLQ (NotFoundError otherwise)."""
        ...

    def remove_from_dlq(self, message_id: str) -> bool: ...


class ScheduleStore(Protocol):
    def upsert(self, schedule: Schedule) -> Schedule | None:
        """Create or replace (keeping the creation time); returns the previous schedule."""
        ...

    def find(self, schedule_id: str) -> Schedule | None: ...

    def get(self, schedule_id: str) -> Schedule: ...

    def all(self) -> list[Schedule]:
        """Every schedule, newest first."""
        ...

    def delete(self, schedule_id: str) -> Schedule: ...

    def set_paused(self, schedule_id: str, *, paused: bool, next_fire: datetime | None) -> None: ...

    def fire(
        self,
        schedule: Schedule,
        *,
        fired_at: datetime,
        messages: tuple[Message, ...],
        next_fire: datetime,
        missed: int,
        now: datetime,
    ) -> bool:
        """Claim the fire at `fired_at`: create its messages (one, one per endpoint of a URL
        group, or none while a kill switch is on) and advance the schedule, all or none. False
        when it lost (paused, deleted, or not waiting for this fire)."""
        ...


class FlowStore(Protocol):
    """Flows (the state token), their steps (the ledger) and the steps' idempotency keys."""

    def get(self, flow_id: str) -> FlowState: ...

    def find(self, flow_id: str) -> FlowState | None: ...

    def create(self, definition: FlowDefinition, *, now: datetime) -> None:
        """The flow and its PENDING steps, atomically; ConflictError if the flow exists."""
        ...

    def restart(self, flow: FlowState, *, now: datetime) -> int:
        """A new run of a halted or finished flow; returns the run number."""
        ...

    def set_state(self, flow_id: str, token: str, *, expect: str | None, now: datetime) -> None:
        """Compare-and-set the state token (ConflictError naming the current one)."""
        ...

    def set_status(
        self,
        flow_id: str,
        status: FlowStatus,
        *,
        reason: str | None,
        run: int | None,
        now: datetime,
    ) -> bool: ...

    def arm_step(
        self, flow_id: str, index: int, *, run: int, due_at: datetime, now: datetime
    ) -> bool:
        """Mark a not-yet-sent step armed for this run; False if it already was."""
        ...

    def claim(
        self,
        flow: FlowState,
        index: int,
        *,
        run: int,
        now: datetime,
        lease: timedelta,
        lease_token: str,
    ) -> bool:
        """Atomically: the flow holds the step's expected token in this run, the idempotency
        key is free (unused, to retry, or its lease expired), and the step goes in flight."""
        ...

    def idempotency(self, key: str) -> IdempotencyState | None: ...

    def record_attempt(
        self,
        flow_id: str,
        index: int,
        *,
        step: StepDefinition,
        lease_token: str,
        status: StepStatus,
        now: datetime,
        response_status: int | None,
        error: str | None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record an attempt on the step and its key together; only the lease holder may."""
        ...

    def mark_step(
        self,
        flow_id: str,
        index: int,
        *,
        status: StepStatus,
        reason: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record why a step of a not-SENT step sent nothing (ConditionFailedError if SENT);
        `detail` goes into its ledger event."""
        ...

    def advance(self, flow: FlowState, index: int, *, run: int, now: datetime) -> bool:
        """Move the flow past a sent step once, applying its token change if the flow still
        holds the token the step expected. False if already done."""
        ...


class TopicStore(Protocol):
    """URL groups. Writes are compare-and-set on the group read before (`previous`, None for
    a group that must not exist yet): a lost race raises ConditionFailedError."""

    def get(self, name: str) -> Topic | None: ...

    def all(self) -> list[Topic]: ...

    def save(self, topic: Topic, *, previous: Topic | None) -> None: ...

    def delete(self, name: str, *, previous: Topic) -> None: ...


class QueueStore(Protocol):
    """Lanes (queues and flow-control keys) and their members. Every change is one atomic
    write, so admissions never pass a lane's parallelism or rate however many callers race."""

    def get(self, name: str) -> QueueCounts | None: ...

    def all(self) -> list[QueueCounts]:
        """Every lane, by name."""
        ...

    def upsert(self, name: str, *, parallelism: int, paused: bool, now: datetime) -> None:
        """Create the queue, or change its settings (keeping its creation time)."""
        ...

    def set_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        """False when there is no such lane."""
        ...

    def ensure(self, name: str, *, now: datetime) -> None:
        """Create a flow-control key's lane (no limits yet) unless it exists."""
        ...

    def pin(self, name: str, settings: LaneSettings, *, now: datetime) -> bool:
        """Set the limits given and keep messages from changing them; False if no lane."""
        ...

    def unpin(self, name: str, *, parallelism: bool, rate: bool, now: datetime) -> bool: ...

    def reset_rate(self, name: str, *, now: datetime) -> bool:
        """End the current period: none admitted in it, a new one starts now."""
        ...

    def delete(self, name: str) -> None:
        """NotFoundError for an unknown lane; ConflictError while it holds messages."""
        ...

    def join(self, member: Member, *, now: datetime, settings: LaneSettings | None = None) -> None:
        """Add a member as WAITING, creating its lane if there is none: a queue with
        parallelism 1, or with `settings` (a flow-control key's message) those limits, which
        also replace the lane's unpinned ones. A member already there is left as it is."""
        ...

    def state(self, member: Member) -> MemberState | None: ...

    def admit(self, name: str, *, now: datetime) -> Admission:
        """Admit the oldest WAITING members while the lane is not paused, has free slots and
        room in the current period."""
        ...

    def leave(self, member: Member) -> bool:
        """Drop a member, freeing its slot if it held one; False if it was not there."""
        ...

    def members(self, name: str, state: MemberState) -> list[Member]:
        """The lane's members in that state, oldest first."""
        ...


class KillSwitchStore(Protocol):
    def all(self) -> list[KillSwitch]: ...

    def turn_on(self, scope: str, *, reason: str | None, now: datetime) -> None: ...

    def turn_off(self, scope: str) -> bool: ...


class ChangeCounter(Protocol):
    """A number the processes serving one store share, moved by each change to what they
    cache (the multi-process dev server's kill switches): a cache holds while it stays put."""

    def read(self) -> int: ...

    def bump(self) -> None: ...


class OverdueScan(Protocol):
    """What some timer should have woken by now: messages, schedule fires and flow steps."""

    def overdue(self, *, before: datetime, limit: int) -> list[TimerPayload]:
        """The timers of live work whose wake time is before `before` (at most about
        `limit`), each carrying the exact due time its target waits for."""
        ...


# --- timers and keys ------------------------------------------------------------------------


class TimerPort(Protocol):
    """Wake a target at its due time, to the second. The record is always written first.

    A timer may fire more than once or after its target moved on: the targets' conditional
    claims make that harmless. Adapters hide their own precision (EventBridge's minute)."""

    def arm(self, payload: TimerPayload, *, now: datetime) -> None: ...

    def disarm(self, target_id: str, due_at: datetime) -> None:
        """Forget a wake-up if the backend can (a stale one that still fires is harmless)."""
        ...


class KeySource(Protocol):
    """Signing keys and accepted API tokens (as sha256 digests)."""

    def signing_keys(self) -> SigningKeys: ...

    def rotate(self, new_next: str, *, now: datetime) -> SigningKeys:
        """Store the keys rotated from the stored ones (`SigningKeys.rotated`) and return them.
        A rotation that loses a race with another raises ConflictError and changes nothing."""
        ...

    def token_hashes(self) -> tuple[str, ...]: ...


# --- a backend ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Travelled:
    """Where a moved clock stands, and how many timers fired on the way."""

    now: datetime
    fired: int


class TimeTravel(Protocol):
    """A virtual clock that moves only when told, firing what falls due in order."""

    def now(self) -> datetime: ...

    def advance(self, by: timedelta) -> Travelled: ...

    def set(self, to: datetime) -> Travelled: ...


@dataclass(frozen=True)
class Adapters:
    """What a backend supplies: every port, and its own answer to an early wake-up."""

    name: str
    messages: MessageStore
    schedules: ScheduleStore
    flows: FlowStore
    kill_switches: KillSwitchStore
    topics: TopicStore
    queues: QueueStore
    overdue: OverdueScan
    timers: TimerPort  # messages and schedule fires
    step_timers: TimerPort  # flow steps
    keys: KeySource
    # A backend whose timers can wake early (EventBridge's minute) re-arms them here and
    # answers True; the services never see such a wake-up.
    rearm_if_early: Callable[[TimerPayload, datetime], bool] = field(
        default=lambda _payload, _now: False
    )

    def arm(self, payload: TimerPayload, now: datetime) -> None:
        """Arm a timer on the timers its kind is consumed from."""
        (self.step_timers if payload.kind == STEP else self.timers).arm(payload, now=now)
