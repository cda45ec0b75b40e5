"""Operators' questions in one read (`GET /v2/stats`), about messages only (schedules and flow
steps are not counted): how many are scheduled, how many are overdue (should be about zero),
how many failed, the average retry count, and, over a stated window, how many attempts were
delivered or failed, their rates, and the errors grouped with a sample of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.domain.clock import Clock, to_ms
from functions.domain.durations import parse_duration
from functions.domain.errors import ValidationError
from functions.domain.messages import Event, EventState, Message
from functions.domain.timers import MESSAGE
from functions.ports import Listing, MessageStore, OverdueScan
from functions.services.recovery import GRACE

if TYPE_CHECKING:
    from collections.abc import Iterator

SAMPLE = 1000
# Messages read, newest first, to find the attempts of a window: a bound on one request's
# work. The answer says when it was reached (`windowComplete: false`).
WINDOW_SCAN = 5000
PAGE = 500  # messages decoded at once
DEFAULT_WINDOW = timedelta(hours=1)
MAX_WINDOW = timedelta(days=30)
ATTEMPTS = frozenset({EventState.DELIVERED, EventState.ERROR, EventState.FAILED})


def parse_window(text: str | None) -> timedelta:
    if text is None:
        return DEFAULT_WINDOW
    window = parse_duration(text, field="window")
    if not timedelta(0) < window <= MAX_WINDOW:
        raise ValidationError(f"window must be more than 0s and at most 30d, got {text!r}")
    return window


@dataclass
class _ErrorGroup:
    count: int
    newest_at: datetime
    sample: dict[str, Any]  # of the newest attempt: small, where a whole message is not


@dataclass
class _WindowTally:
    """The window's figures, counted one page at a time: a summary holds one page of messages
    at once, not the up to WINDOW_SCAN it reads (a poll of thousands of documents at a time
    is what grew the dev server's memory, one high-water mark after another)."""

    since: datetime
    attempts: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    errors: dict[str, _ErrorGroup] = field(default_factory=dict)

    def add(self, message: Message) -> None:
        for event in message.events:
            if event.state not in ATTEMPTS or event.at < self.since:
                continue
            self.attempts += 1
            if event.state is EventState.DELIVERED:
                self.delivered += 1
                continue
            if event.state is EventState.FAILED:
                self.dead_lettered += 1
            error = _error_of(event)
            group = self.errors.get(error)
            if group is None:
                self.errors[error] = _ErrorGroup(1, event.at, _sample(message, event))
                continue
            group.count += 1
            if event.at > group.newest_at:
                group.newest_at, group.sample = event.at, _sample(message, event)

    def figures(self, *, until: datetime, complete: bool) -> dict[str, Any]:
        total = self.attempts
        failures = total - self.delivered
        # Most frequent first; equal counts keep the order the scan first met them in.
        groups = sorted(self.errors.items(), key=lambda item: -item[1].count)
        return {
            "window": {"from": to_ms(self.since), "to": to_ms(until)},
            "windowComplete": complete,
            "attempts": total,
            "delivered": self.delivered,
            "failedAttempts": failures,
            "deadLettered": self.dead_lettered,
            "successRate": round(self.delivered / total, 4) if total else None,
            "failureRate": round(failures / total, 4) if total else None,
            "errors": [
                {"error": error, "count": g.count, "sample": g.sample} for error, g in groups
            ],
        }


@dataclass
class Stats:
    store: MessageStore
    scan: OverdueScan
    clock: Clock

    def summary(self, window: timedelta = DEFAULT_WINDOW) -> dict[str, Any]:
        now = self.clock()
        pending_ids = self.store.pending_ids()
        overdue = [
            t for t in self.scan.overdue(before=now - GRACE, limit=SAMPLE) if t.kind == MESSAGE
        ]
        failed_ids = self.store.newest(Listing.DLQ, cursor=None, count=SAMPLE).ids
        sampled, retried = 0, 0
        for message in self._each(failed_ids + pending_ids[:SAMPLE]):
            sampled += 1
            retried += message.retried
        tally = _WindowTally(since=now - window)
        complete = self._scan_window(tally)
        return {
            "scheduled": len(pending_ids),
            "overdue": len(overdue),
            "failed": len(failed_ids),
            "averageRetries": round(retried / sampled, 2) if sampled else 0.0,
            "sampled": sampled,
            **tally.figures(until=now, complete=complete),
        }

    def _each(self, message_ids: list[str]) -> Iterator[Message]:
        for start in range(0, len(message_ids), PAGE):
            yield from self.store.get_many(message_ids[start : start + PAGE])

    def _scan_window(self, tally: _WindowTally) -> bool:
        """Count the attempts that ended in the window; True when every message was read. The
        log lists messages newest created first and a message lives at most its delay plus its
        retries, so the scan cannot stop at the window's start: it reads up to WINDOW_SCAN
        messages and says whether it saw them all."""
        cursor: str | None = None
        read = 0
        while read < WINDOW_SCAN:
            page = self.store.newest(Listing.LOG, cursor=cursor, count=PAGE)
            read += len(page.ids)
            for message in self.store.get_many(page.ids):
                tally.add(message)
            if page.cursor is None:
                return True
            cursor = page.cursor
        return False


def _error_of(event: Event) -> str:
    if event.error:
        return event.error
    if event.response_status is not None:
        return f"HTTP {event.response_status}"
    return "unknown"


def _sample(message: Message, event: Event) -> dict[str, Any]:
    sample: dict[str, Any] = {
        "messageId": message.message_id,
        "url": message.url,
        "time": to_ms(event.at),
        "retried": event.attempt,
    }
    if event.response_status is not None:
        sample["responseStatus"] = event.response_status
    if event.response_body is not None:
        sample["responseBody"] = event.response_body
    return sample
