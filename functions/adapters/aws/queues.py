"""Queues on DynamoDB. A queue is one item in the `QUEUES` partition, counting its waiting
and active members; each member is an item under `QUEUE#<name>`, sorted in enqueue order.
Every admission and every departure is one transaction over the member and the counts, and an
admission is conditional on a free slot, so racing dispatchers never pass the parallelism."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import QueueItem, QueueMemberItem
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.queues import Member, MemberState, Queue, QueueCounts

_PK = "QUEUES"
# Bounded retries of a transaction that lost a race (another admission, a departure).
ATTEMPTS = 5


def _members_pk(name: str) -> str:
    return f"QUEUE#{name}"


def _member_sk(member: Member) -> str:
    return f"M#{member.order}"


def _counts(item: QueueItem) -> QueueCounts:
    queue = Queue(
        name=item.sk,
        parallelism=int(item.parallelism),
        paused=bool(item.paused),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
    return QueueCounts(queue, waiting=int(item.waiting or 0), active=int(item.active or 0))


def _transaction() -> TransactWrite:
    return TransactWrite(connection=QueueItem._get_connection().connection)


class QueueStore:
    def get(self, name: str) -> QueueCounts | None:
        item = self._queue(name)
        return _counts(item) if item else None

    def all(self) -> list[QueueCounts]:
        with storage_errors("list queues"):
            return [_counts(item) for item in QueueItem.query(_PK, consistent_read=True)]

    def upsert(self, name: str, *, parallelism: int, paused: bool, now: datetime) -> None:
        with storage_errors(f"upsert queue {name}"):
            QueueItem(_PK, name).update(
                actions=[
                    QueueItem.parallelism.set(parallelism),
                    QueueItem.paused.set(paused),
                    QueueItem.updated_at.set(now),
                    QueueItem.created_at.set(QueueItem.created_at | now),
                    QueueItem.waiting.set(QueueItem.waiting | 0),
                    QueueItem.active.set(QueueItem.active | 0),
                ]
            )

    def set_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        try:
            with storage_errors(f"pause queue {name}"):
                QueueItem(_PK, name).update(
                    actions=[QueueItem.paused.set(paused), QueueItem.updated_at.set(now)],
                    condition=QueueItem.pk.exists(),
                )
        except ConflictError:
            return False
        return True

    def delete(self, name: str) -> None:
        current = self.get(name)
        if current is None:
            raise NotFoundError(f"queue {name} not found")
        empty = (QueueItem.waiting == 0) & (QueueItem.active == 0)
        try:
            with storage_errors(f"delete queue {name}"):
                QueueItem(_PK, name).delete(condition=QueueItem.pk.exists() & empty)
        except ConflictError as exc:
            held = self.get(name)
            count = held.lag if held else 0
            raise ConflictError(
                f"queue {name} still holds {count} message(s); cancel them first "
                f"(DELETE /v2/messages?queueName={name}) or let them finish"
            ) from exc

    def join(self, member: Member, *, now: datetime) -> None:
        item = QueueMemberItem(
            _members_pk(member.queue),
            _member_sk(member),
            message_id=member.message_id,
            state=MemberState.WAITING.value,
        )
        for _ in range(ATTEMPTS):
            if self._member(member) is not None:
                return
            try:
                with storage_errors(f"join queue {member.queue}"), _transaction() as tx:
                    tx.update(
                        QueueItem(_PK, member.queue),
                        actions=[
                            QueueItem.parallelism.set(QueueItem.parallelism | 1),
                            QueueItem.paused.set(QueueItem.paused | False),
                            QueueItem.created_at.set(QueueItem.created_at | now),
                            QueueItem.updated_at.set(QueueItem.updated_at | now),
                            QueueItem.waiting.add(1),
                            # The slot condition compares `active`: it must exist.
                            QueueItem.active.set(QueueItem.active | 0),
                        ],
                    )
                    tx.save(item, condition=QueueMemberItem.pk.does_not_exist())
            except TransactWriteError:
                continue  # joined meanwhile, or a racing transaction on the counts
            return
        raise ConflictError(f"queue {member.queue} is too busy to join; try again")

    def state(self, member: Member) -> MemberState | None:
        item = self._member(member)
        return MemberState(item.state) if item else None

    def admit(self, name: str) -> list[str]:
        admitted: list[str] = []
        for _ in range(ATTEMPTS):
            queue = self._queue(name)
            if queue is None or queue.paused:
                break
            free = int(queue.parallelism) - int(queue.active or 0)
            candidates = self._waiting(name, limit=free) if free > 0 else []
            if not candidates:
                break
            lost = False
            for candidate in candidates:
                if not self._admit_one(name, candidate):
                    lost = True
                    break
                admitted.append(candidate.message_id)
            if not lost:
                break
        return admitted

    def _admit_one(self, name: str, candidate: QueueMemberItem) -> bool:
        has_slot = (QueueItem.active < QueueItem.parallelism) & (QueueItem.paused == False)  # noqa: E712 - a DynamoDB condition, not a comparison
        try:
            with storage_errors(f"admit to queue {name}"), _transaction() as tx:
                tx.update(
                    QueueItem(_PK, name),
                    actions=[QueueItem.active.add(1), QueueItem.waiting.add(-1)],
                    condition=has_slot,
                )
                tx.update(
                    QueueMemberItem(candidate.pk, candidate.sk),
                    actions=[QueueMemberItem.state.set(MemberState.ACTIVE.value)],
                    condition=QueueMemberItem.state == MemberState.WAITING.value,
                )
        except TransactWriteError:
            return False
        return True

    def leave(self, member: Member) -> bool:
        for _ in range(ATTEMPTS):
            item = self._member(member)
            if item is None:
                return False
            counter = (
                QueueItem.active if item.state == MemberState.ACTIVE.value else QueueItem.waiting
            )
            try:
                with storage_errors(f"leave queue {member.queue}"), _transaction() as tx:
                    tx.delete(
                        QueueMemberItem(item.pk, item.sk),
                        condition=QueueMemberItem.state == item.state,
                    )
                    tx.update(QueueItem(_PK, member.queue), actions=[counter.add(-1)])
            except TransactWriteError:
                continue  # admitted meanwhile: its slot is the one to free
            return True
        raise ConflictError(f"queue {member.queue} is too busy to leave; try again")

    def members(self, name: str, state: MemberState) -> list[Member]:
        with storage_errors(f"list queue {name}"):
            items = QueueMemberItem.query(
                _members_pk(name), QueueMemberItem.sk.startswith("M#"), consistent_read=True
            )
            return [
                Member(name, item.message_id, item.sk.removeprefix("M#"))
                for item in items
                if item.state == state.value
            ]

    # --- reads ------------------------------------------------------------------------------
    @staticmethod
    def _queue(name: str) -> QueueItem | None:
        with storage_errors(f"get queue {name}"):
            try:
                return QueueItem.get(_PK, name, consistent_read=True)
            except QueueItem.DoesNotExist:
                return None

    @staticmethod
    def _member(member: Member) -> QueueMemberItem | None:
        with storage_errors(f"get queue member {member.message_id}"):
            try:
                return QueueMemberItem.get(
                    _members_pk(member.queue), _member_sk(member), consistent_read=True
                )
            except QueueMemberItem.DoesNotExist:
                return None

    @staticmethod
    def _waiting(name: str, *, limit: int) -> list[QueueMemberItem]:
        """The oldest `limit` waiting members. Admitted ones sort before nearly all of them
        (admission is oldest first), so the read stays near `parallelism` items."""
        found: list[QueueMemberItem] = []
        with storage_errors(f"read queue {name}"):
            for item in QueueMemberItem.query(
                _members_pk(name),
                QueueMemberItem.sk.startswith("M#"),
                consistent_read=True,
                page_size=limit + 10,
            ):
                if item.state == MemberState.WAITING.value:
                    found.append(item)
                    if len(found) >= limit:
                        break
        return found
