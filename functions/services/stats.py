"""Operators' questions in one read (`GET /v2/stats`), about messages only (schedules and flow
steps are not counted): how many are scheduled, how many are overdue (should be about zero),
how many failed, the average retry count, and, over a stated window, how many attempts were
delivered or failed, their rates, and the errors grouped with a sample of each."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.domain.clock import Clock, to_ms
from functions.domain.durations import parse_duration
from functions.domain.errors import ValidationError
from functions.domain.messages import Event, EventState, Message
from functions.domain.timers import MESSAGE
from functions.ports import Listing, MessageStore, OverdueScan
from functions.services.recovery import GRACE

SAMPLE = 1000
# Messages read, newest first, to find the attempts of a window: a bound on one request's
# work. The answer says when it was reached (`windowComplete: false`).
WINDOW_SCAN = 5000
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


@dataclass(frozen=True)
class _Attempt:
    message: Message
    event: Event


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
        failed = self.store.get_many(failed_ids)
        pending = self.store.get_many(pending_ids[:SAMPLE])
        sample = pending + failed
        attempts, complete = self._attempts(since=now - window)
        return {
            "scheduled": len(pending_ids),
            "overdue": len(overdue),
            "failed": len(failed_ids),
            "averageRetries": round(sum(m.retried for m in sample) / len(sample), 2)
            if sample
            else 0.0,
            "sampled": len(sample),
            **_window_figures(attempts, since=now - window, until=now, complete=complete),
        }

    def _attempts(self, *, since: datetime) -> tuple[list[_Attempt], bool]:
        """Attempts that ended in the window. The log lists messages newest created first and
        a message lives at most its delay plus its retries, so the scan cannot stop at the
        window's start: it reads up to WINDOW_SCAN messages and says whether it saw them all."""
        found: list[_Attempt] = []
        cursor: str | None = None
        read = 0
        while read < WINDOW_SCAN:
            page = self.store.newest(Listing.LOG, cursor=cursor, count=min(500, WINDOW_SCAN))
            read += len(page.ids)
            for message in self.store.get_many(page.ids):
                found.extend(
                    _Attempt(message, e)
                    for e in message.events
                    if e.state in ATTEMPTS and e.at >= since
                )
            if page.cursor is None:
                return found, True
            cursor = page.cursor
        return found, False


def _window_figures(
    attempts: list[_Attempt], *, since: datetime, until: datetime, complete: bool
) -> dict[str, Any]:
    delivered = sum(1 for a in attempts if a.event.state is EventState.DELIVERED)
    failures = [a for a in attempts if a.event.state is not EventState.DELIVERED]
    total = len(attempts)
    return {
        "window": {"from": to_ms(since), "to": to_ms(until)},
        "windowComplete": complete,
        "attempts": total,
        "delivered": delivered,
        "failedAttempts": len(failures),
        "deadLettered": sum(1 for a in failures if a.event.state is EventState.FAILED),
        "successRate": round(delivered / total, 4) if total else None,
        "failureRate": round(len(failures) / total, 4) if total else None,
        "errors": _grouped(failures),
    }


def _error_of(event: Event) -> str:
    if event.error:
        return event.error
    if event.response_status is not None:
        return f"HTTP {event.response_status}"
    return "unknown"


def _grouped(failures: list[_Attempt]) -> list[dict[str, Any]]:
    """One line per distinct error, most frequent first, with its newest attempt as sample."""
    counts = Counter(_error_of(a.event) for a in failures)
    newest: dict[str, _Attempt] = {}
    for attempt in failures:
        key = _error_of(attempt.event)
        if key not in newest or attempt.event.at > newest[key].event.at:
            newest[key] = attempt
    return [
        {"error": error, "count": count, "sample": _sample(newest[error])}
        for error, count in counts.most_common()
    ]


def _sample(attempt: _Attempt) -> dict[str, Any]:
    event = attempt.event
    sample: dict[str, Any] = {
        "messageId": attempt.message.message_id,
        "url": attempt.message.url,
        "time": to_ms(event.at),
        "retried": event.attempt,
    }
    if event.response_status is not None:
        sample["responseStatus"] = event.response_status
    if event.response_body is not None:
        sample["responseBody"] = event.response_body
    return sample
