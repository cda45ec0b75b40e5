"""The overdue scan of the embedded engine: the three wake indexes, read in wake order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.adapters.sqlite.codec import from_us, to_us
from functions.domain.timers import MESSAGE, SCHEDULE, STEP, TimerPayload, step_target

if TYPE_CHECKING:
    from datetime import datetime

    from functions.adapters.sqlite.db import Database


@dataclass
class SqliteOverdueScan:
    db: Database

    def overdue(self, *, before: datetime, limit: int) -> list[TimerPayload]:
        cutoff = to_us(before)
        with self.db.read() as db:
            messages = db.execute(
                "SELECT id, wake_at FROM messages WHERE wake_at < ? ORDER BY wake_at LIMIT ?",
                (cutoff, limit),
            ).fetchall()
            schedules = db.execute(
                "SELECT id, wake_at FROM schedules WHERE wake_at < ? ORDER BY wake_at LIMIT ?",
                (cutoff, limit),
            ).fetchall()
            steps = db.execute(
                "SELECT flow_id, idx, wake_at FROM steps WHERE wake_at < ?"
                " ORDER BY wake_at LIMIT ?",
                (cutoff, limit),
            ).fetchall()
        # Run 0 on a step means "the flow's current run"; the step runner resolves it.
        return [
            *(TimerPayload(i, from_us(w), kind=MESSAGE) for i, w in messages),
            *(TimerPayload(i, from_us(w), kind=SCHEDULE) for i, w in schedules),
            *(TimerPayload(step_target(f, 0, x), from_us(w), kind=STEP) for f, x, w in steps),
        ]
