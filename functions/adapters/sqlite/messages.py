"""Messages on the embedded engine. Each method that changes a message is one transaction:
read the row, check the condition the AWS adapter states as a DynamoDB condition, write."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from functions.adapters.sqlite.codec import (
    list_key,
    message_doc,
    message_from,
    opt_us,
    to_us,
)
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.messages import (
    CANCELLABLE,
    CLAIMABLE,
    TERMINAL,
    Event,
    EventState,
    Message,
    MessageState,
)
from functions.ports import (
    ClaimRejectedError,
    ConditionFailedError,
    DedupClaim,
    DuplicateMessageError,
    Listing,
    Page,
    decode_cursor,
    encode_cursor,
)

if TYPE_CHECKING:
    from functions.adapters.sqlite.db import Database

RETENTION = timedelta(days=7)


@dataclass
class SqliteMessageStore:
    db: Database
    retention: timedelta = RETENTION
    dlq_retention: timedelta = RETENTION

    def create(
        self, message: Message, *, dedup: DedupClaim | None = None, parked: bool = False
    ) -> None:
        with self.db.write() as tx:
            if dedup is not None:
                row = tx.execute(
                    "SELECT message_id, window_ends FROM dedup WHERE key = ?", (dedup.key,)
                ).fetchone()
                if row is not None and row[1] >= to_us(dedup.now):
                    raise DuplicateMessageError(row[0])
                tx.execute(
                    "INSERT OR REPLACE INTO dedup (key, message_id, window_ends) VALUES (?, ?, ?)",
                    (dedup.key, message.message_id, to_us(dedup.now + dedup.window)),
                )
            try:
                tx.execute(INSERT_MESSAGE, message_row(message, parked=parked))
            except sqlite3.IntegrityError as exc:
                raise ConditionFailedError(f"create {message.message_id}: exists") from exc

    def get(self, message_id: str) -> Message:
        found = self.find(message_id)
        if found is None:
            raise NotFoundError(f"message {message_id} not found")
        return found

    def find(self, message_id: str) -> Message | None:
        with self.db.read() as db:
            row = db.execute("SELECT doc FROM messages WHERE id = ?", (message_id,)).fetchone()
        return message_from(row[0]) if row else None

    def get_many(self, message_ids: list[str]) -> list[Message]:
        """One statement whatever the count: the ids go in as one JSON array. An `IN (?, ?,
        ...)` per count would leave a prepared statement per count in the connection's
        statement cache, about 80 KB each at 430 ids, and a server polled for stats grows
        by one nearly every minute."""
        found: dict[str, Message] = {}
        with self.db.read() as db:
            rows = db.execute(
                "SELECT doc FROM messages WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(dict.fromkeys(message_ids))),),
            )
            for (doc,) in rows:
                message = message_from(doc)
                found[message.message_id] = message
        return [found[m] for m in message_ids if m in found]

    def claim(
        self,
        message_id: str,
        *,
        now: datetime,
        lease: timedelta,
        lease_token: str,
        early: timedelta,
    ) -> Message:
        """Waiting and due within `early`, or ACTIVE with an expired lease (a crashed attempt);
        anything else rejects the claim with the current record. wake_at stays, as on AWS."""
        with self.db.write() as tx:
            current = self._locked(tx, message_id)
            waiting = (
                current is not None and current.state in CLAIMABLE and current.due_at <= now + early
            )
            abandoned = (
                current is not None
                and current.state is MessageState.ACTIVE
                and current.lease_until is not None
                and current.lease_until < now
            )
            if current is None or not (waiting or abandoned):
                raise ClaimRejectedError(current)
            claimed = replace(
                current,
                state=MessageState.ACTIVE,
                lease_token=lease_token,
                lease_until=now + lease,
            )
            self._save(tx, claimed)
        return claimed

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
        with self.db.write() as tx:
            current = self._locked(tx, message_id)
            if (
                current is None
                or current.state is not MessageState.ACTIVE
                or current.lease_token != lease_token
            ):
                raise ConditionFailedError(f"record {message_id}: lease lost")
            recorded = replace(
                current,
                state=state,
                retried=retried,
                lease_token=None,
                lease_until=None,
                events=(*current.events, event),
            )
            if state is MessageState.FAILED:
                self._save(
                    tx,
                    recorded,
                    wake_at=None,
                    dlq_key=list_key(event.at, message_id),
                    expires_at=to_us(event.at + self.dlq_retention),
                )
            elif state in TERMINAL:
                self._save(tx, recorded, wake_at=None, expires_at=to_us(event.at + self.retention))
            elif next_due is not None:
                recorded = replace(recorded, due_at=next_due)
                self._save(tx, recorded, wake_at=to_us(next_due))
            else:
                self._save(tx, recorded)
            for follow_up in follow_ups:
                try:
                    tx.execute(INSERT_MESSAGE, message_row(follow_up))
                except sqlite3.IntegrityError as exc:
                    raise ConditionFailedError(f"record {message_id}: callback exists") from exc
        return recorded

    def extend_lease(self, message_id: str, *, lease_token: str, until: datetime) -> None:
        with self.db.write() as tx:
            current = self._leased(tx, message_id, lease_token, what="extend")
            self._save(tx, replace(current, lease_until=until))

    def park(self, message_id: str, *, lease_token: str, state: MessageState) -> None:
        with self.db.write() as tx:
            current = self._leased(tx, message_id, lease_token, what="park")
            parked = replace(current, state=state, lease_token=None, lease_until=None)
            self._save(tx, parked, wake_at=None)

    def cancel(self, message_id: str, *, now: datetime) -> bool:
        with self.db.write() as tx:
            current = self._locked(tx, message_id)
            if current is None:
                raise NotFoundError(f"message {message_id} not found")
            if current.state is MessageState.CANCELED:
                return False
            if current.state not in CANCELLABLE:
                raise ConflictError(
                    f"message {message_id} is already {current.state.value} and cannot be "
                    "cancelled",
                    current={"state": current.state.value},
                )
            cancelled = replace(
                current,
                state=MessageState.CANCELED,
                lease_token=None,
                lease_until=None,
                events=(*current.events, Event(EventState.CANCELED, now)),
            )
            self._save(tx, cancelled, wake_at=None, expires_at=to_us(now + self.retention))
        return True

    def pending_ids(self) -> list[str]:
        with self.db.read() as db:
            rows = db.execute("SELECT id FROM messages WHERE wake_at IS NOT NULL").fetchall()
        return [r[0] for r in rows]

    def newest(self, listing: Listing, *, cursor: str | None, count: int) -> Page:
        column = "dlq_key" if listing is Listing.DLQ else "list_key"
        before = decode_cursor(cursor) if cursor else "\uffff"
        with self.db.read() as db:
            query = (
                f"SELECT {column} FROM messages WHERE {column} IS NOT NULL"  # noqa: S608 - ours
                f" AND {column} < ? ORDER BY {column} DESC LIMIT ?"
            )
            rows = db.execute(query, (before, count + 1)).fetchall()
        keys = [r[0] for r in rows]
        page = keys[:count]
        next_cursor = encode_cursor(page[-1]) if len(keys) > count and page else None
        return Page(
            [k.rsplit("#", 1)[1] for k in page], next_cursor, [encode_cursor(k) for k in page]
        )

    def in_dlq(self, message_id: str) -> Message:
        with self.db.read() as db:
            row = db.execute(
                "SELECT doc FROM messages WHERE id = ? AND dlq_key IS NOT NULL", (message_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"dlq message {message_id} not found")
        return message_from(row[0])

    def remove_from_dlq(self, message_id: str) -> bool:
        with self.db.write() as tx:
            changed = tx.execute(
                "UPDATE messages SET dlq_key = NULL WHERE id = ? AND dlq_key IS NOT NULL",
                (message_id,),
            ).rowcount
        return bool(changed)

    def purge_expired(self, *, now: datetime) -> int:
        """What DynamoDB's TTL does on AWS: finished messages past their retention go."""
        with self.db.write() as tx:
            gone = tx.execute(
                "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at < ?",
                (to_us(now),),
            ).rowcount
            tx.execute("DELETE FROM dedup WHERE window_ends < ?", (to_us(now),))
        return int(gone)

    def expire_leases(self, *, now: datetime) -> int:
        """End every lease in the file. Only at start: the file is held exclusively (an
        flock), so any lease in it belongs to a process that is gone; its attempt may have
        been sent unrecorded, and goes again under the same message id."""
        with self.db.write() as tx:
            rows = tx.execute("SELECT doc FROM messages WHERE state = 'ACTIVE'").fetchall()
            for (doc,) in rows:
                message = message_from(doc)
                self._save(tx, replace(message, lease_until=now - timedelta(microseconds=1)))
            tx.execute(
                "UPDATE idempotency SET lease_until = ? WHERE status = 'IN_FLIGHT'",
                (to_us(now) - 1,),
            )
        return len(rows)

    # --- inside a transaction ---------------------------------------------------------------
    def _leased(
        self, tx: sqlite3.Connection, message_id: str, lease_token: str, *, what: str
    ) -> Message:
        """The message, if this lease still holds it (the condition AWS states)."""
        current = self._locked(tx, message_id)
        if (
            current is None
            or current.state is not MessageState.ACTIVE
            or current.lease_token != lease_token
        ):
            raise ConditionFailedError(f"{what} {message_id}: lease lost")
        return current

    @staticmethod
    def _locked(tx: sqlite3.Connection, message_id: str) -> Message | None:
        row = tx.execute("SELECT doc FROM messages WHERE id = ?", (message_id,)).fetchone()
        return message_from(row[0]) if row else None

    @staticmethod
    def _save(tx: sqlite3.Connection, message: Message, **columns: int | str | None) -> None:
        """Write the document and state, and whichever index columns are given."""
        names = ["state", "doc", *columns]
        values = [message.state.value, message_doc(message), *columns.values()]
        assignments = ", ".join(f"{name} = ?" for name in names)
        tx.execute(
            f"UPDATE messages SET {assignments} WHERE id = ?",  # noqa: S608 - our own names
            (*values, message.message_id),
        )


INSERT_MESSAGE = "INSERT INTO messages (id, state, wake_at, list_key, doc) VALUES (?,?,?,?,?)"


def message_row(message: Message, *, parked: bool = False) -> tuple[str, str, int | None, str, str]:
    """The row of a new message (a schedule fire writes it inside its own transaction)."""
    stored = replace(
        message,
        state=MessageState.CREATED,
        retried=0,
        events=(Event(EventState.CREATED, message.created_at),),
    )
    return (
        message.message_id,
        stored.state.value,
        None if parked else opt_us(message.due_at),
        list_key(message.created_at, message.message_id),
        message_doc(stored),
    )
