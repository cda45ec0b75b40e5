"""What an attempt's result means for the message: pure, so every rule is unit-tested."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from functions.domain.limits import kept_body, kept_error, kept_headers
from functions.domain.messages import Event, EventState, Message, MessageState
from functions.domain.retry import retry_delay, server_requested_delay

if TYPE_CHECKING:
    from datetime import datetime

NON_RETRYABLE_STATUS = 489


@dataclass(frozen=True)
class AttemptResult:
    status: int | None
    headers: dict[str, str]
    body: str
    error: str | None
    # False when the request could not even be written (nothing reached the network): retrying
    # cannot help, so the attempt fails at once.
    sendable: bool = True

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    next_due: datetime | None = None


def judge(
    result: AttemptResult,
    *,
    retried: int,
    max_retries: int,
    retry_delay_expression: str | None,
    now: datetime,
    refused: bool = False,
) -> Judgement:
    """The one rule for every attempt, a message's or a flow step's: delivered on 2xx; failed
    when refused, non-retryable (489 with Upstash-NonRetryable-Error) or out of retries;
    otherwise retried after the server's Retry-After / X-RateLimit-Reset, else the retry-delay
    expression, else QStash's backoff. `retried` counts the retries already made."""
    if result.ok:
        return Judgement(Verdict.DELIVERED)
    if refused or _non_retryable(result) or retried >= max_retries:
        return Judgement(Verdict.FAILED)
    requested = server_requested_delay(result.headers, now)
    wait = (
        requested
        if requested is not None
        else retry_delay(retried=retried, expression=retry_delay_expression)
    )
    return Judgement(Verdict.RETRY, now + wait)


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
        # A bounded part of the response, so every retry's event fits the message's item.
        response_headers=kept_headers(result.headers),
        response_body=kept_body(result.body, retried=False),
        error=kept_error(result.error),
    )
    judgement = judge(
        result,
        retried=message.retried,
        max_retries=message.max_retries,
        retry_delay_expression=message.retry_delay,
        now=now,
        refused=refused,
    )
    if judgement.verdict is Verdict.DELIVERED:
        return Decision(MessageState.DELIVERED, message.retried, event)
    if judgement.verdict is Verdict.FAILED:
        failed = replace(event, state=EventState.FAILED)
        return Decision(MessageState.FAILED, message.retried, failed)
    return Decision(
        MessageState.RETRY,
        message.retried + 1,
        replace(
            event,
            state=EventState.ERROR,
            response_body=kept_body(result.body, retried=True),
            next_delivery_at=judgement.next_due,
        ),
        next_due=judgement.next_due,
    )
