"""What an attempt's result means for the message: pure, so every rule is unit-tested."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from functions.domain.messages import Event, EventState, Message, MessageState
from functions.domain.retry import retry_delay, server_requested_delay

NON_RETRYABLE_STATUS = 489


@dataclass(frozen=True)
class AttemptResult:
    status: int | None
    headers: dict[str, str]
    body: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Decision:
    state: MessageState
    retried: int
    event: Event
    next_due: datetime | None = None


def _non_retryable(result: AttemptResult) -> bool:
    flag = {k.lower(): v for k, v in result.headers.items()}.get("upstash-nonretryable-error", "")
    return result.status == NON_RETRYABLE_STATUS and flag.strip().lower() == "true"


def decide(
    message: Message, result: AttemptResult, *, now: datetime, refused: bool = False
) -> Decision:
    """DELIVERED on 2xx; RETRY while retries remain; FAILED when exhausted or non-retryable."""
    event = Event(
        EventState.DELIVERED,
        at=now,
        attempt=message.retried,
        response_status=result.status,
        response_headers=result.headers or None,
        response_body=result.body or None,
        error=result.error,
    )
    if result.ok:
        return Decision(MessageState.DELIVERED, message.retried, event)
    if refused or _non_retryable(result) or message.retried >= message.max_retries:
        failed = replace(event, state=EventState.FAILED)
        return Decision(MessageState.FAILED, message.retried, failed)
    requested = server_requested_delay(result.headers, now)
    wait = (
        requested
        if requested is not None
        else retry_delay(retried=message.retried, expression=message.retry_delay)
    )
    next_due = now + wait
    return Decision(
        MessageState.RETRY,
        message.retried + 1,
        replace(event, state=EventState.ERROR, next_delivery_at=next_due),
        next_due=next_due,
    )
