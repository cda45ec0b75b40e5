"""Lanes (queues and flow-control keys) on the embedded engine: a row per lane and a row per
member. Each change is one transaction under the database lock, so counting free slots and
the period's room and admitting cannot interleave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.adapters.sqlite.codec import from_us, opt_dt, to_us
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.queues import (
    Admission,
    LaneSettings,
    Member,
    MemberState,
    Queue,
    QueueCounts,
    free_slots,
    next_period,
    rate_room,
    rate_window,
)

if TYPE_CHECKING:
    from datetime import datetime

    from functions.adapters.sqlite.db import Database

_LANE = (
    "name, parallelism, paused, created, updated, rate, period, rate_count, period_start,"
    " pinned_parallelism, pinned_rate"
)
_COUNTS = f"""
SELECT {", ".join("q." + c.strip() for c in _LANE.split(","))},
       (SELECT count(*) FROM queue_members m WHERE m.queue = q.name AND m.state = 'WAITING'),
       (SELECT count(*) FROM queue_members m WHERE m.queue = q.name AND m.state = 'ACTIVE')
FROM queues q
"""  # noqa: S608 - our own column names


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
        return self._update(name, now, paused=int(paused))

    def ensure(self, name: str, *, now: datetime) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO queues (name, parallelism, paused, created, updated)"
                " VALUES (?, NULL, 0, ?, ?)",
                (name, to_us(now), to_us(now)),
            )

    def pin(self, name: str, settings: LaneSettings, *, now: datetime) -> bool:
        changes: dict[str, Any] = {}
        if settings.parallelism is not None:
            changes |= {"parallelism": settings.parallelism, "pinned_parallelism": 1}
        if settings.rate is not None:
            changes |= {"rate": settings.rate, "pinned_rate": 1}
            changes["period"] = settings.period_seconds or 1
        return self._update(name, now, **changes)

    def unpin(self, name: str, *, parallelism: bool, rate: bool, now: datetime) -> bool:
        changes: dict[str, Any] = {}
        if parallelism:
            changes["pinned_parallelism"] = 0
        if rate:
            changes["pinned_rate"] = 0
        return self._update(name, now, **changes)

    def reset_rate(self, name: str, *, now: datetime) -> bool:
        return self._update(name, now, rate_count=0, period_start=to_us(now))

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

    def join(self, member: Member, *, now: datetime, settings: LaneSettings | None = None) -> None:
        with self.db.write() as tx:
            # A queue an enqueue creates has parallelism 1; a flow-control key takes its
            # message's limits, which later messages replace unless they are pinned.
            tx.execute(
                "INSERT OR IGNORE INTO queues (name, parallelism, paused, created, updated)"
                " VALUES (?, ?, 0, ?, ?)",
                (member.queue, 1 if settings is None else None, to_us(now), to_us(now)),
            )
            if settings is not None:
                tx.execute(
                    "UPDATE queues SET"
                    " parallelism = CASE pinned_parallelism WHEN 1 THEN parallelism ELSE ? END,"
                    " rate = CASE pinned_rate WHEN 1 THEN rate ELSE ? END,"
                    " period = CASE pinned_rate WHEN 1 THEN period ELSE ? END"
                    " WHERE name = ?",
                    (
                        settings.parallelism,
                        settings.rate,
                        settings.period_seconds or 1,
                        member.queue,
                    ),
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

    def admit(self, name: str, *, now: datetime) -> Admission:
        with self.db.write() as tx:
            row = tx.execute(_COUNTS + " WHERE q.name = ?", (name,)).fetchone()
            if row is None:
                return Admission([])
            counts = _counts(row)
            lane = counts.queue
            if lane.paused:
                return Admission([])
            room = min(free_slots(lane, counts.active), rate_room(lane, now))
            rows = tx.execute(
                "SELECT ord, message_id FROM queue_members WHERE queue = ? AND state = 'WAITING'"
                " ORDER BY ord LIMIT ?",
                (name, max(room, 0) + 1),
            ).fetchall()
            taken, rest = rows[: max(room, 0)], rows[max(room, 0) :]
            tx.executemany(
                "UPDATE queue_members SET state = 'ACTIVE' WHERE queue = ? AND ord = ?",
                [(name, order) for order, _ in taken],
            )
            if lane.rate is not None and taken:
                start, used = rate_window(lane, now)
                tx.execute(
                    "UPDATE queues SET rate_count = ?, period_start = ? WHERE name = ?",
                    (used + len(taken), to_us(start), name),
                )
            held_back = None
            if (
                rest
                and lane.rate is not None
                and rate_room(lane, now) <= free_slots(lane, counts.active)
            ):
                held_back = rest[0][1]  # the rate stops it: only the next period frees it
        admitted = [message_id for _, message_id in taken]
        if held_back is None:
            return Admission(admitted)
        return Admission(admitted, held_back=held_back, next_period=next_period(lane, now))

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

    def _update(self, name: str, now: datetime, **changes: Any) -> bool:
        assignments = ", ".join(f"{column} = ?" for column in [*changes, "updated"])
        with self.db.write() as tx:
            changed = tx.execute(
                f"UPDATE queues SET {assignments} WHERE name = ?",  # noqa: S608 - our columns
                (*changes.values(), to_us(now), name),
            ).rowcount
        return bool(changed)


def _counts(row: tuple[Any, ...]) -> QueueCounts:
    (name, parallelism, paused, created, updated, rate, period, rate_count, period_start,
     pinned_parallelism, pinned_rate, waiting, active) = row  # fmt: skip
    lane = Queue(
        name=name,
        parallelism=None if parallelism is None else int(parallelism),
        paused=bool(paused),
        created_at=from_us(created),
        updated_at=from_us(updated),
        rate=None if rate is None else int(rate),
        period_seconds=int(period),
        rate_count=int(rate_count),
        period_start=opt_dt(period_start),
        pinned_parallelism=bool(pinned_parallelism),
        pinned_rate=bool(pinned_rate),
    )
    return QueueCounts(lane, waiting=int(waiting), active=int(active))
