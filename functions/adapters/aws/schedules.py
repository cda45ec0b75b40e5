"""Schedule persistence. A fire is one transaction: the fire's message and the schedule's
advance are written together or not at all."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.adapters.aws import schema
from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.messages import message_item
from functions.adapters.aws.models import MessageItem, ScheduleItem
from functions.domain.clock import to_ms
from functions.domain.cron import CronSpec
from functions.domain.errors import NotFoundError
from functions.domain.messages import Message
from functions.domain.schedules import Schedule
from functions.ports import ConditionFailedError

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

# DynamoDB transactions hold at most 100 items and 4 MB: the schedule and 99 of its messages,
# of at most about 3 MB of bodies (the rest of each item is small).
MAX_FIRE_TRANSACTION_MESSAGES = 99
MAX_FIRE_TRANSACTION_BODY_BYTES = 3_000_000
_SK = "SCHED"


def _pk(schedule_id: str) -> str:
    return f"SCHED#{schedule_id}"


def to_schedule(item: ScheduleItem) -> Schedule:
    template = Message(
        message_id="",
        url=item.url,
        method=item.method,
        headers=dict(item.headers or {}),
        body=bytes(item.body or b""),
        due_at=item.created_at,
        created_at=item.created_at,
        max_retries=int(item.max_retries),
        retry_delay=item.retry_delay,
        timeout_seconds=int(item.timeout_seconds),
        callback=item.callback,
        failure_callback=item.failure_callback,
        label=item.label,
        options=dict(item.options or {}),
    )
    return Schedule(
        schedule_id=item.schedule_id,
        cron=CronSpec.parse(item.cron),
        template=template,
        delay=timedelta(seconds=int(item.delay_seconds)) if item.delay_seconds else None,
        created_at=item.created_at,
        next_fire=item.next_fire,
        paused=bool(item.paused),
        last_fire=item.last_fire,
        last_message_id=item.last_message_id,
        missed_fires=int(item.missed_fires or 0),
        last_missed_at=item.last_missed_at,
        version=int(item.version or 0),
    )


def _wake(next_fire: datetime | None, schedule_id: str, paused: bool) -> list[Action]:
    """Index the next fire for recovery while the schedule is live; take it out when paused."""
    if next_fire is None or paused:
        return [ScheduleItem.wake_shard.remove(), ScheduleItem.wake_at.remove()]
    return [
        ScheduleItem.wake_shard.set(schema.wake_shard(schedule_id)),
        ScheduleItem.wake_at.set(to_ms(next_fire)),
    ]


class ScheduleStore:
    def upsert(self, schedule: Schedule) -> Schedule | None:
        """Create or replace a schedule (keeping its creation time); returns the previous one."""
        previous = self.find(schedule.schedule_id)
        created = previous.created_at if previous else schedule.created_at
        list_pk, list_sk = schema.list_key("SCHED", schedule.schedule_id, created)
        t = schedule.template
        item = ScheduleItem(
            _pk(schedule.schedule_id),
            _SK,
            schedule_id=schedule.schedule_id,
            cron=str(schedule.cron),
            url=t.url,
            method=t.method,
            headers=t.headers,
            body=t.body,
            max_retries=t.max_retries,
            retry_delay=t.retry_delay,
            timeout_seconds=t.timeout_seconds,
            callback=t.callback,
            failure_callback=t.failure_callback,
            label=t.label,
            options=t.options or None,
            delay_seconds=int(schedule.delay.total_seconds()) if schedule.delay else None,
            created_at=created,
            paused=False,
            next_fire=schedule.next_fire,
            last_fire=previous.last_fire if previous else None,
            last_message_id=previous.last_message_id if previous else None,
            missed_fires=previous.missed_fires if previous else 0,
            version=(previous.version + 1) if previous else 0,
            list_pk=list_pk,
            list_sk=list_sk,
        )
        if schedule.next_fire is not None:
            item.wake_shard = schema.wake_shard(schedule.schedule_id)
            item.wake_at = to_ms(schedule.next_fire)
        condition = (
            ScheduleItem.version == previous.version
            if previous
            else ScheduleItem.pk.does_not_exist()
        )
        with storage_errors(f"upsert schedule {schedule.schedule_id}"):
            item.save(condition=condition)
        return previous

    def find(self, schedule_id: str) -> Schedule | None:
        try:
            return to_schedule(ScheduleItem.get(_pk(schedule_id), _SK, consistent_read=True))
        except ScheduleItem.DoesNotExist:
            return None

    def get(self, schedule_id: str) -> Schedule:
        found = self.find(schedule_id)
        if found is None:
            raise NotFoundError(f"schedule {schedule_id} not found")
        return found

    def all(self) -> list[Schedule]:
        """Every schedule, newest first."""
        keys: list[str] = []
        for shard in range(schema.WAKE_SHARDS):
            with storage_errors("list schedules"):
                keys.extend(
                    str(item.list_sk) for item in ScheduleItem.list_index.query(f"SCHED#{shard}")
                )
        ids = [k.rsplit("#", 1)[1] for k in sorted(keys, reverse=True)]
        found: dict[str, Schedule] = {}
        with storage_errors("batch get schedules"):
            for item in ScheduleItem.batch_get([(_pk(i), _SK) for i in ids]):
                found[item.schedule_id] = to_schedule(item)
        return [found[i] for i in ids if i in found]

    def delete(self, schedule_id: str) -> Schedule:
        current = self.get(schedule_id)
        with storage_errors(f"delete schedule {schedule_id}"):
            ScheduleItem(_pk(schedule_id), _SK).delete(condition=ScheduleItem.pk.exists())
        return current

    def set_paused(self, schedule_id: str, *, paused: bool, next_fire: datetime | None) -> None:
        """Pause (no next fire) or resume (with the next fire after now)."""
        item = ScheduleItem(_pk(schedule_id), _SK)
        try:
            with storage_errors(f"pause schedule {schedule_id}"):
                item.update(
                    actions=[
                        ScheduleItem.paused.set(paused),
                        ScheduleItem.next_fire.set(next_fire)
                        if next_fire
                        else ScheduleItem.next_fire.remove(),
                        ScheduleItem.version.add(1),
                        *_wake(next_fire, schedule_id, paused),
                    ],
                    condition=ScheduleItem.pk.exists(),
                )
        except ConditionFailedError as exc:
            raise NotFoundError(f"schedule {schedule_id} not found") from exc

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
        """Claim the fire at `fired_at`: write its message and advance the schedule, atomically.

        The condition (still live, still waiting for exactly this fire) makes a duplicate or
        stale timer, a pause or a delete in between, lose. False when it lost.
        """
        actions: list[Action] = [
            ScheduleItem.next_fire.set(next_fire),
            ScheduleItem.last_fire.set(fired_at),
            ScheduleItem.version.add(1),
            *_wake(next_fire, schedule.schedule_id, paused=False),
        ]
        if messages:
            actions.append(ScheduleItem.last_message_id.set(messages[0].message_id))
        if missed:
            actions += [
                ScheduleItem.missed_fires.add(missed),
                ScheduleItem.last_missed_at.set(now),
            ]
        condition = (
            ScheduleItem.pk.exists()
            & (ScheduleItem.paused == False)  # noqa: E712 - a DynamoDB condition, not a bool
            & (ScheduleItem.next_fire == fired_at)
        )
        # A transaction holds at most 100 items and 4 MB: the schedule and as many messages as
        # fit go in it; a larger URL group's others follow, each created once (their ids are
        # the fire's), and a crash between would lose them for this fire only.
        first = _fitting(messages)
        try:
            with TransactWrite(connection=MessageItem._get_connection().connection) as tx:
                for message in first:
                    tx.save(message_item(message), condition=MessageItem.pk.does_not_exist())
                tx.update(ScheduleItem(_pk(schedule.schedule_id), _SK), actions, condition)
        except TransactWriteError as exc:
            reasons = {getattr(r, "code", None) for r in exc.cancellation_reasons or [] if r}
            if "ConditionalCheckFailed" in reasons:
                return False  # paused, deleted, or another timer claimed this fire
            with storage_errors(f"fire {schedule.schedule_id}"):
                raise  # throttled or conflicting: the timer is retried, nothing was written
        for message in messages[len(first) :]:
            with contextlib.suppress(ConditionFailedError), storage_errors("fire message"):
                message_item(message).save(condition=MessageItem.pk.does_not_exist())
        return True


def _fitting(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """The leading messages that fit in the fire's transaction beside the schedule."""
    size = 0
    for count, message in enumerate(messages):
        size += len(message.body)
        if count >= MAX_FIRE_TRANSACTION_MESSAGES or size > MAX_FIRE_TRANSACTION_BODY_BYTES:
            return messages[: max(count, 1)]
    return messages
