"""Schedules on the embedded engine. A fire is one transaction: the fire's message and the
schedule's advance are written together or not at all."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from functions.adapters.sqlite.codec import list_key, opt_us, schedule_doc, schedule_from
from functions.adapters.sqlite.messages import INSERT_MESSAGE, message_row
from functions.domain.errors import NotFoundError
from functions.ports import ConditionFailedError

if TYPE_CHECKING:
    from datetime import datetime

    from functions.adapters.sqlite.db import Database
    from functions.domain.messages import Message
    from functions.domain.schedules import Schedule


def _wake(schedule: Schedule) -> int | None:
    """Indexed for recovery while live; out of the index while paused."""
    return None if schedule.paused else opt_us(schedule.next_fire)


@dataclass
class SqliteScheduleStore:
    db: Database

    def upsert(self, schedule: Schedule) -> Schedule | None:
        with self.db.write() as tx:
            previous = self._locked(tx, schedule.schedule_id)
            stored = replace(
                schedule,
                created_at=previous.created_at if previous else schedule.created_at,
                paused=False,
                last_fire=previous.last_fire if previous else None,
                last_message_id=previous.last_message_id if previous else None,
                missed_fires=previous.missed_fires if previous else 0,
                version=previous.version + 1 if previous else 0,
            )
            tx.execute(
                "INSERT OR REPLACE INTO schedules (id, list_key, wake_at, doc) VALUES (?,?,?,?)",
                (
                    schedule.schedule_id,
                    list_key(stored.created_at, schedule.schedule_id),
                    _wake(stored),
                    schedule_doc(stored),
                ),
            )
        return previous

    def find(self, schedule_id: str) -> Schedule | None:
        with self.db.read() as db:
            return self._locked(db, schedule_id)

    def get(self, schedule_id: str) -> Schedule:
        found = self.find(schedule_id)
        if found is None:
            raise NotFoundError(f"schedule {schedule_id} not found")
        return found

    def all(self) -> list[Schedule]:
        with self.db.read() as db:
            rows = db.execute("SELECT doc FROM schedules ORDER BY list_key DESC").fetchall()
        return [schedule_from(r[0]) for r in rows]

    def delete(self, schedule_id: str) -> Schedule:
        with self.db.write() as tx:
            current = self._locked(tx, schedule_id)
            if current is None:
                raise NotFoundError(f"schedule {schedule_id} not found")
            tx.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
        return current

    def set_paused(self, schedule_id: str, *, paused: bool, next_fire: datetime | None) -> None:
        with self.db.write() as tx:
            current = self._locked(tx, schedule_id)
            if current is None:
                raise NotFoundError(f"schedule {schedule_id} not found")
            self._save(
                tx,
                replace(current, paused=paused, next_fire=next_fire, version=current.version + 1),
            )

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
        try:
            return self._fire(
                schedule,
                fired_at=fired_at,
                messages=messages,
                next_fire=next_fire,
                missed=missed,
                now=now,
            )
        except _FireLostError:
            return False  # rolled back: this fire's messages exist, a duplicate timer lost

    def _fire(
        self,
        schedule: Schedule,
        *,
        fired_at: datetime,
        messages: tuple[Message, ...],
        next_fire: datetime,
        missed: int,
        now: datetime,
    ) -> bool:
        with self.db.write() as tx:
            current = self._locked(tx, schedule.schedule_id)
            if current is None or current.paused or current.next_fire != fired_at:
                return False
            advanced = replace(
                current,
                next_fire=next_fire,
                last_fire=fired_at,
                version=current.version + 1,
                last_message_id=messages[0].message_id if messages else current.last_message_id,
                missed_fires=current.missed_fires + missed,
                last_missed_at=now if missed else current.last_missed_at,
            )
            try:
                tx.executemany(INSERT_MESSAGE, [message_row(m) for m in messages])
            except sqlite3.IntegrityError as exc:
                raise _FireLostError from exc
            self._save(tx, advanced)
        return True

    @staticmethod
    def _locked(db: sqlite3.Connection, schedule_id: str) -> Schedule | None:
        row = db.execute("SELECT doc FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
        return schedule_from(row[0]) if row else None

    @staticmethod
    def _save(tx: sqlite3.Connection, schedule: Schedule) -> None:
        changed = tx.execute(
            "UPDATE schedules SET wake_at = ?, doc = ? WHERE id = ?",
            (_wake(schedule), schedule_doc(schedule), schedule.schedule_id),
        ).rowcount
        if not changed:
            raise ConditionFailedError(f"schedule {schedule.schedule_id} is gone")


class _FireLostError(Exception):
    """Raised inside the fire's transaction so that it rolls back every message it wrote."""
