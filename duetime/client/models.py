"""What the client returns: pydantic models of duetime's JSON answers.

Field names are snake_case here and camelCase on the wire. Times are timezone-aware UTC
datetimes. Fields a newer server adds are kept (`model_extra`), not dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


def from_ms(value: Any) -> Any:
    """The API's Unix milliseconds as an aware UTC datetime (pydantic would read seconds)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value


class Message(_Model):
    message_id: str
    url: str | None = None
    method: str = "POST"
    state: str | None = None
    retried: int = 0
    max_retries: int | None = None
    not_before: datetime | None = None
    created_at: datetime | None = None
    body: str | None = None
    body_base64: str | None = None  # instead of `body` when the bytes are not UTF-8
    header: dict[str, list[str]] = Field(default_factory=dict)
    label: str | None = None
    schedule_id: str | None = None
    queue_name: str | None = None

    _times = field_validator("not_before", "created_at", mode="before")(from_ms)


class DlqMessage(Message):
    dlq_id: str
    response_status: int | None = None
    response_body: str | None = None


class Page(_Model):
    """One page of a newest-first listing; `cursor` is None on the last page."""

    cursor: str | None = None


class MessagePage(Page):
    messages: list[Message]


class DlqPage(Page):
    messages: list[DlqMessage]


class Schedule(_Model):
    schedule_id: str
    cron: str
    destination: str
    method: str = "POST"
    is_paused: bool = False
    created_at: datetime | None = None
    next_schedule_time: datetime | None = None
    last_schedule_time: datetime | None = None
    missed_fires: int = 0
    label: str | None = None

    _times = field_validator(
        "created_at", "next_schedule_time", "last_schedule_time", mode="before"
    )(from_ms)


class FlowStep(_Model):
    id: str
    status: str
    attempts: int = 0
    run: int = 0
    delay_seconds: float | None = None
    reason: str | None = None
    armed_at: datetime | None = None
    due_at: datetime | None = None
    sent_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    idempotency_key: str | None = None
    sent_by: dict[str, Any] | None = None

    _times = field_validator("armed_at", "due_at", "sent_at", mode="before")(from_ms)


class Flow(_Model):
    """A flow and its ledger: each step armed, in flight, sent, skipped (and why) or failed."""

    flow_id: str
    state_token: str
    status: str
    run: int
    created_at: datetime
    steps: list[FlowStep]
    reason: str | None = None

    _times = field_validator("created_at", mode="before")(from_ms)


class LedgerEvent(_Model):
    time: datetime
    event: str
    step_id: str | None = None

    _times = field_validator("time", mode="before")(from_ms)


class FlowLog(_Model):
    flow_id: str
    events: list[LedgerEvent]


class StepResult(_Model):
    """A replay's answer: `skipped` with reason `already_sent` when its key was sent."""

    ok: bool
    skipped: bool = False
    reason: str | None = None
    error: str | None = None


class KillSwitch(_Model):
    scope: str
    reason: str | None = None
    since: datetime

    _times = field_validator("since", mode="before")(from_ms)


class SigningKeys(_Model):
    current: str
    next: str


class ErrorSample(_Model):
    message_id: str
    url: str | None = None
    time: datetime
    retried: int = 0
    response_status: int | None = None
    response_body: str | None = None

    _times = field_validator("time", mode="before")(from_ms)


class ErrorGroup(_Model):
    error: str
    count: int
    sample: ErrorSample


class Window(_Model):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")

    _times = field_validator("start", "end", mode="before")(from_ms)


class Stats(_Model):
    """Scenario 2's questions: docs/operations.md documents each field."""

    scheduled: int
    overdue: int
    failed: int
    average_retries: float | None
    sampled: int
    window: Window
    window_complete: bool
    attempts: int
    delivered: int
    failed_attempts: int
    dead_lettered: int
    success_rate: float | None
    failure_rate: float | None
    errors: list[ErrorGroup]


class Clock(_Model):
    now: datetime
    mode: str  # "real" or "manual"

    _times = field_validator("now", mode="before")(from_ms)


class Travelled(_Model):
    """Where a manual clock stands after a move, and how many timers fired on the way."""

    now: datetime
    fired: int

    _times = field_validator("now", mode="before")(from_ms)
