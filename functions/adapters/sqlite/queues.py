"""Queues on the embedded engine: a row per queue and a row per member. Each change is one
transaction under the database lock, so counting free slots and admitting cannot interleave."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from functions.adapters.sqlite.codec import from_us, to_us
from functions.adapters.sqlite.db import Database
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.queues import Member, MemberState, Queue, QueueCounts

_COUNTS = """
SELECT q.name, q.parallelism, q.paused, q.created, q.updated,
       (SELECT count(*) FROM queue_members m WHERE m.queue = q.name AND m.state = 'WAITING'),
       (SELECT count(*) FROM queue_members m WHERE m.queue = q.name AND m.state = 'ACTIVE')
FROM queues q
"""


@dataclass
class SqliteQueueStore:
    db: Database

    def get(self, name: str) -> QueueCounts | None:
        with self.db.read() as db:
            row = db.execute(_COUNTS + " WHERE q.name = ?", (name,)).fetchone()
        return _counts(row) if row else None

    def all(self) -> list[QueueCounts]:
        with self.db.read() as db:
            rows = db.execute(_COUNTS + " ORDER BY q.name").fetchall()
        return [_counts(row) for row in rows]

    def upsert(self, name: str, *, parallelism: int, paused: bool, now: datetime) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO queues (name, parallelism, paused, created, updated)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " parallelism = excluded.parallelism, paused = excluded.paused,"
                " updated = excluded.updated",
                (name, parallelism, int(paused), to_us(now), to_us(now)),
            )

    def set_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        with self.db.write() as tx:
            changed = tx.execute(
                "UPDATE queues SET paused = ?, updated = ? WHERE name = ?",
                (int(paused), to_us(now), name),
            ).rowcount
        return bool(changed)

    def delete(self, name: str) -> None:
        with self.db.write() as tx:
            if tx.execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone() is None:
                raise NotFoundError(f"queue {name} not found")
            held = tx.execute("SELECT count(*) FROM queue_members WHERE queue = ?", (name,))
            count = held.fetchone()[0]
            if count:
                raise ConflictError(
                    f"queue {name} still holds {count} message(s); cancel them first "
                    f"(DELETE /v2/messages?queueName={name}) or let them finish"
                )
            tx.execute("DELETE FROM queues WHERE name = ?", (name,))

    def join(self, member: Member, *, now: datetime) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO queues (name, parallelism, paused, created, updated)"
                " VALUES (?, 1, 0, ?, ?)",
                (member.queue, to_us(now), to_us(now)),
            )
            tx.execute(
                "INSERT OR IGNORE INTO queue_members (queue, ord, message_id, state)"
                " VALUES (?, ?, ?, 'WAITING')",
                (member.queue, member.order, member.message_id),
            )

    def state(self, member: Member) -> MemberState | None:
        with self.db.read() as db:
            row = db.execute(
                "SELECT state FROM queue_members WHERE queue = ? AND ord = ?",
                (member.queue, member.order),
            ).fetchone()
        return MemberState(row[0]) if row else None

    def admit(self, name: str) -> list[str]:
        with self.db.write() as tx:
            free = _free_slots(tx, name)
            if free <= 0:
                return []
            rows = tx.execute(
                "SELECT ord, message_id FROM queue_members WHERE queue = ? AND state = 'WAITING'"
                " ORDER BY ord LIMIT ?",
                (name, free),
            ).fetchall()
            tx.executemany(
                "UPDATE queue_members SET state = 'ACTIVE' WHERE queue = ? AND ord = ?",
                [(name, order) for order, _ in rows],
            )
        return [message_id for _, message_id in rows]

    def leave(self, member: Member) -> bool:
        with self.db.write() as tx:
            gone = tx.execute(
                "DELETE FROM queue_members WHERE queue = ? AND ord = ?",
                (member.queue, member.order),
            ).rowcount
        return bool(gone)

    def members(self, name: str, state: MemberState) -> list[Member]:
        with self.db.read() as db:
            rows = db.execute(
                "SELECT ord, message_id FROM queue_members WHERE queue = ? AND state = ?"
                " ORDER BY ord",
                (name, state.value),
            ).fetchall()
        return [Member(name, message_id, order) for order, message_id in rows]


def _free_slots(tx: sqlite3.Connection, name: str) -> int:
    row = tx.execute("SELECT parallelism, paused FROM queues WHERE name = ?", (name,)).fetchone()
    if row is None or row[1]:
        return 0
    active = tx.execute(
        "SELECT count(*) FROM queue_members WHERE queue = ? AND state = 'ACTIVE'", (name,)
    ).fetchone()[0]
    return int(row[0]) - int(active)


def _counts(row: tuple[str, int, int, int, int, int, int]) -> QueueCounts:
    name, parallelism, paused, created, updated, waiting, active = row
    return QueueCounts(
        Queue(name, int(parallelism), bool(paused), from_us(created), from_us(updated)),
        waiting=int(waiting),
        active=int(active),
    )
