"""Lanes (queues and flow-control keys) on DynamoDB. A lane is one item in the `QUEUES`
partition, counting its waiting and active members and its current rate period; each member
is an item under `QUEUE#<name>`, sorted in enqueue order. Every admission and every departure
is one transaction over the member and the lane, and an admission is conditional on a free
slot and on the period read before, so racing dispatchers never pass the limits."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import QueueItem, QueueMemberItem
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
    period_ended,
    rate_room,
    rate_window,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from pynamodb.attributes import BooleanAttribute
    from pynamodb.expressions.condition import Condition
    from pynamodb.expressions.update import Action

_PK = "QUEUES"
# Bounded retries of a transaction that lost a race (another admission, a departure).
ATTEMPTS = 5


def _members_pk(name: str) -> str:
    return f"QUEUE#{name}"


def _member_sk(member: Member) -> str:
    return f"M#{member.order}"


def _lane(item: QueueItem) -> Queue:
    return Queue(
        name=item.sk,
        parallelism=None if item.parallelism is None else int(item.parallelism),
        paused=bool(item.paused),
        created_at=item.created_at,
        updated_at=item.updated_at,
        rate=None if item.rate is None else int(item.rate),
        period_seconds=int(item.period_seconds or 1),
        rate_count=int(item.rate_count or 0),
        period_start=item.period_start,
        pinned_parallelism=bool(item.pinned_parallelism),
        pinned_rate=bool(item.pinned_rate),
    )


def _counts(item: QueueItem) -> QueueCounts:
    return QueueCounts(_lane(item), waiting=int(item.waiting or 0), active=int(item.active or 0))


def _transaction() -> TransactWrite:
    return TransactWrite(connection=QueueItem._get_connection().connection)


def _set_or_remove(attribute: object, value: int | None) -> Action:
    return attribute.set(value) if value is not None else attribute.remove()  # type: ignore[attr-defined,no-any-return]


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
                    *_created(now),
                ]
            )

    def set_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        return self._update(name, [QueueItem.paused.set(paused)], now=now)

    def ensure(self, name: str, *, now: datetime) -> None:
        with storage_errors(f"create flow-control key {name}"):
            QueueItem(_PK, name).update(
                actions=[
                    QueueItem.paused.set(QueueItem.paused | False),
                    QueueItem.updated_at.set(QueueItem.updated_at | now),
                    *_created(now),
                ]
            )

    def pin(self, name: str, settings: LaneSettings, *, now: datetime) -> bool:
        actions: list[Action] = []
        if settings.parallelism is not None:
            actions += [
                QueueItem.parallelism.set(settings.parallelism),
                QueueItem.pinned_parallelism.set(True),
            ]
        if settings.rate is not None:
            actions += [
                QueueItem.rate.set(settings.rate),
                QueueItem.period_seconds.set(settings.period_seconds or 1),
                QueueItem.pinned_rate.set(True),
            ]
        return self._update(name, actions, now=now)

    def unpin(self, name: str, *, parallelism: bool, rate: bool, now: datetime) -> bool:
        actions: list[Action] = []
        if parallelism:
            actions.append(QueueItem.pinned_parallelism.set(False))
        if rate:
            actions.append(QueueItem.pinned_rate.set(False))
        return self._update(name, actions, now=now)

    def reset_rate(self, name: str, *, now: datetime) -> bool:
        actions = [QueueItem.rate_count.set(0), QueueItem.period_start.set(now)]
        return self._update(name, actions, now=now)

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

    def join(self, member: Member, *, now: datetime, settings: LaneSettings | None = None) -> None:
        item = QueueMemberItem(
            _members_pk(member.queue),
            _member_sk(member),
            message_id=member.message_id,
            state=MemberState.WAITING.value,
        )
        for _ in range(ATTEMPTS):
            if self._member(member) is not None:
                return
            lane = self._queue(member.queue)
            actions, condition = _joining(lane, settings, now)
            try:
                with storage_errors(f"join queue {member.queue}"), _transaction() as tx:
                    tx.update(QueueItem(_PK, member.queue), actions=actions, condition=condition)
                    tx.save(item, condition=QueueMemberItem.pk.does_not_exist())
            except TransactWriteError:
                continue  # joined meanwhile, pinned meanwhile, or a race on the counts
            return
        raise ConflictError(f"queue {member.queue} is too busy to join; try again")

    def state(self, member: Member) -> MemberState | None:
        item = self._member(member)
        return MemberState(item.state) if item else None

    def admit(self, name: str, *, now: datetime) -> Admission:
        admitted: list[str] = []
        for _ in range(ATTEMPTS):
            item = self._queue(name)
            if item is None or item.paused:
                return Admission(admitted)
            lane, active = _lane(item), int(item.active or 0)
            room = max(min(free_slots(lane, active), rate_room(lane, now)), 0)
            candidates = self._waiting(name, limit=room + 1)
            taken, rest = candidates[:room], candidates[room:]
            lost = False
            for candidate in taken:
                if not self._admit_one(name, candidate, lane, now):
                    lost = True
                    break
                admitted.append(candidate.message_id)
                start, used = rate_window(lane, now)
                lane = replace(lane, period_start=start, rate_count=used + 1)
                active += 1
            if lost:
                continue  # re-read the lane and go on from where the race left it
            rate_binds = lane.rate is not None and rate_room(lane, now) <= free_slots(lane, active)
            if rest and rate_binds:
                return Admission(
                    admitted, held_back=rest[0].message_id, next_period=next_period(lane, now)
                )
            return Admission(admitted)
        return Admission(admitted)

    def _admit_one(self, name: str, candidate: QueueMemberItem, lane: Queue, now: datetime) -> bool:
        condition: Condition = QueueItem.paused == False  # noqa: E712 - a DynamoDB condition
        if lane.parallelism is None:
            condition &= QueueItem.parallelism.does_not_exist()
        else:
            condition &= QueueItem.active < QueueItem.parallelism
        actions: list[Action] = [QueueItem.active.add(1), QueueItem.waiting.add(-1)]
        if lane.rate is not None:
            _, used = rate_window(lane, now)
            # Conditional on the period read: a racing admission in it, or a new period
            # started by another, makes this one re-read.
            condition &= (
                QueueItem.period_start == lane.period_start
                if lane.period_start is not None
                else QueueItem.period_start.does_not_exist()
            )
            if period_ended(lane, now):  # this admission starts a new period
                actions += [QueueItem.period_start.set(now), QueueItem.rate_count.set(1)]
            else:
                condition &= QueueItem.rate_count == used
                actions.append(QueueItem.rate_count.set(used + 1))
        try:
            with storage_errors(f"admit to queue {name}"), _transaction() as tx:
                tx.update(QueueItem(_PK, name), actions=actions, condition=condition)
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
            held = item.state == MemberState.ACTIVE.value
            counter = QueueItem.active if held else QueueItem.waiting
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
    def _update(name: str, actions: Sequence[Action], *, now: datetime) -> bool:
        try:
            with storage_errors(f"change queue {name}"):
                QueueItem(_PK, name).update(
                    actions=[*actions, QueueItem.updated_at.set(now)],
                    condition=QueueItem.pk.exists(),
                )
        except ConflictError:
            return False
        return True

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


def _created(now: datetime) -> list[Action]:
    """Set on a lane's first write only: its creation time and zero counts."""
    return [
        QueueItem.created_at.set(QueueItem.created_at | now),
        QueueItem.waiting.set(QueueItem.waiting | 0),
        # The slot condition compares `active`: it must exist.
        QueueItem.active.set(QueueItem.active | 0),
    ]


def _joining(
    lane: QueueItem | None, settings: LaneSettings | None, now: datetime
) -> tuple[list[Action], Condition | None]:
    """The lane's part of a join: count the member, create the lane if it is new, and take a
    flow-control message's limits where they are not pinned (conditional on that, as read)."""
    actions: list[Action] = [
        QueueItem.waiting.add(1),
        QueueItem.created_at.set(QueueItem.created_at | now),
        QueueItem.updated_at.set(QueueItem.updated_at | now),
        QueueItem.paused.set(QueueItem.paused | False),
        QueueItem.active.set(QueueItem.active | 0),
    ]
    if settings is None:
        actions.append(QueueItem.parallelism.set(QueueItem.parallelism | 1))
        return actions, None
    pinned_parallelism = bool(lane and lane.pinned_parallelism)
    pinned_rate = bool(lane and lane.pinned_rate)
    if not pinned_parallelism:
        actions.append(_set_or_remove(QueueItem.parallelism, settings.parallelism))
    if not pinned_rate:
        actions.append(_set_or_remove(QueueItem.rate, settings.rate))
        actions.append(QueueItem.period_seconds.set(settings.period_seconds or 1))
    condition = _flag_is(QueueItem.pinned_parallelism, pinned_parallelism) & _flag_is(
        QueueItem.pinned_rate, pinned_rate
    )
    return actions, condition


def _flag_is(flag: BooleanAttribute, value: bool) -> Condition:
    if value:
        return flag == True  # noqa: E712 - a DynamoDB condition, not a comparison
    unset: Condition = flag.does_not_exist()
    false: Condition = flag == False  # noqa: E712
    either: Condition = unset | false
    return either
