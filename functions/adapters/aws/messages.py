"""Message persistence: every status change is one conditional write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.adapters.aws import schema
from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import DedupItem, EventMap, MessageItem
from functions.domain.clock import to_ms
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
    from pynamodb.expressions.condition import Condition
    from pynamodb.expressions.update import Action

    from functions.domain.timers import TimerPayload

_SK = "MSG"
# How long finished messages stay readable before DynamoDB's TTL removes them.
RETENTION = timedelta(days=7)


def _pk(message_id: str) -> str:
    return f"MSG#{message_id}"


def _event_map(event: Event) -> EventMap:
    return EventMap(  # type: ignore[no-untyped-call]
        state=event.state.value,
        at=event.at,
        attempt=event.attempt,
        response_status=event.response_status,
        response_headers=event.response_headers,
        response_body=event.response_body,
        error=event.error,
        next_delivery_at=event.next_delivery_at,
    )


def _event(raw: EventMap) -> Event:
    return Event(
        state=EventState(raw.state),
        at=raw.at,
        attempt=int(raw.attempt or 0),
        response_status=int(raw.response_status) if raw.response_status is not None else None,
        response_headers=raw.response_headers,
        response_body=raw.response_body,
        error=raw.error,
        next_delivery_at=raw.next_delivery_at,
    )


def to_message(item: MessageItem) -> Message:
    return Message(
        message_id=item.message_id,
        url=item.url,
        method=item.method,
        headers=dict(item.headers or {}),
        body=bytes(item.body or b""),
        due_at=item.due_at,
        created_at=item.created_at,
        state=MessageState(item.state),
        max_retries=int(item.max_retries),
        retry_delay=item.retry_delay,
        timeout_seconds=int(item.timeout_seconds),
        callback=item.callback,
        failure_callback=item.failure_callback,
        schedule_id=item.schedule_id,
        label=item.label,
        retried=int(item.retried or 0),
        lease_token=item.lease_token,
        lease_until=item.lease_until,
        events=tuple(_event(e) for e in item.events or []),
        options=dict(item.options or {}),
    )


def message_item(message: Message, *, parked: bool = False) -> MessageItem:
    """The new item of a message (its CREATED event, wake and list keys); the schedule store
    writes it inside a fire's transaction."""
    list_pk, list_sk = schema.list_key("LOG", message.message_id, message.created_at)
    return MessageItem(
        _pk(message.message_id),
        _SK,
        message_id=message.message_id,
        url=message.url,
        method=message.method,
        headers=message.headers,
        body=message.body,
        state=MessageState.CREATED.value,
        due_at=message.due_at,
        created_at=message.created_at,
        max_retries=message.max_retries,
        retry_delay=message.retry_delay,
        timeout_seconds=message.timeout_seconds,
        callback=message.callback,
        failure_callback=message.failure_callback,
        schedule_id=message.schedule_id,
        label=message.label,
        options=message.options or None,
        retried=0,
        events=[_event_map(Event(EventState.CREATED, message.created_at))],
        # A parked message (waiting in a queue) is woken by its queue, not the wake index.
        wake_shard=None if parked else schema.wake_shard(message.message_id),
        wake_at=None if parked else to_ms(message.due_at),
        list_pk=list_pk,
        list_sk=list_sk,
    )


@dataclass
class MessageStore:
    """Reads and conditional writes of messages."""

    retention: timedelta = RETENTION
    dlq_retention: timedelta = RETENTION

    def create(
        self, message: Message, *, dedup: DedupClaim | None = None, parked: bool = False
    ) -> None:
        """Write a new message with its CREATED event; fails if the id exists.

        With a deduplication claim, the message and its `DEDUP#` item are written in one
        transaction: a duplicate inside the window raises DuplicateMessageError with the first id.
        """
        item = message_item(message, parked=parked)
        if dedup is None:
            with storage_errors(f"create {message.message_id}"):
                item.save(condition=MessageItem.pk.does_not_exist())
            return
        claim = DedupItem(
            f"DEDUP#{dedup.key}",
            "DEDUP",
            message_id=message.message_id,
            window_ends=dedup.now + dedup.window,
            expires_at=dedup.now + dedup.window,
        )
        free = DedupItem.pk.does_not_exist() | (DedupItem.window_ends < dedup.now)
        for _ in range(3):
            try:
                with TransactWrite(connection=MessageItem._get_connection().connection) as tx:
                    tx.save(claim, condition=free)
                    tx.save(item, condition=MessageItem.pk.does_not_exist())
            except TransactWriteError as exc:
                first = self._dedup_owner(dedup)
                if first is not None:
                    raise DuplicateMessageError(first) from exc
                if self.find(message.message_id) is not None:
                    raise ConditionFailedError(f"create {message.message_id}: exists") from exc
                # Lost to a transaction still in flight (TransactionConflict): look again.
                continue
            return
        raise ConflictError(f"deduplication id {dedup.key!r} is being published concurrently")

    @staticmethod
    def _dedup_owner(dedup: DedupClaim) -> str | None:
        try:
            existing = DedupItem.get(f"DEDUP#{dedup.key}", "DEDUP", consistent_read=True)
        except DedupItem.DoesNotExist:
            return None
        if existing.window_ends < dedup.now:
            return None
        return existing.message_id

    def get(self, message_id: str) -> Message:
        # Strongly consistent: a read right after a write (a publish then a get, the queue
        # reconcile deciding a slot's message is gone) must see it.
        try:
            item = MessageItem.get(_pk(message_id), _SK, consistent_read=True)
        except MessageItem.DoesNotExist as exc:
            raise NotFoundError(f"message {message_id} not found") from exc
        return to_message(item)

    def find(self, message_id: str) -> Message | None:
        try:
            return self.get(message_id)
        except NotFoundError:
            return None

    def claim(
        self,
        message_id: str,
        *,
        now: datetime,
        lease: timedelta,
        lease_token: str,
        early: timedelta,
    ) -> Message:
        """Lease a due message for one delivery attempt.

        Timeline of the condition: a message is claimable when it waits (CREATED/RETRY) and is due
        within `early`, or when an earlier attempt holds it (ACTIVE) but its lease ran out, which
        means that attempt crashed. Anything else (finished, cancelled, leased by a live attempt,
        not yet due) rejects the claim with the current record.
        """
        due_by = now + early
        waiting = MessageItem.state.is_in(*(s.value for s in CLAIMABLE)) & (
            MessageItem.due_at <= due_by
        )
        abandoned = (MessageItem.state == MessageState.ACTIVE.value) & (
            MessageItem.lease_until < now
        )
        lease_until = now + lease
        item = MessageItem(_pk(message_id), _SK)
        try:
            with storage_errors(f"claim {message_id}"):
                item.update(
                    actions=[
                        MessageItem.state.set(MessageState.ACTIVE.value),
                        MessageItem.lease_token.set(lease_token),
                        # wake_at stays: leaving the index alone saves an index write per
                        # claim; recovery re-arms an overdue ACTIVE item and its claim waits
                        # out the lease.
                        MessageItem.lease_until.set(lease_until),
                    ],
                    condition=MessageItem.pk.exists() & (waiting | abandoned),
                )
        except ConditionFailedError as exc:
            raise ClaimRejectedError(self.find(message_id)) from exc
        return to_message(item)

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
        """Record an attempt's outcome; only the holder of the lease may. Its callbacks
        (`follow_ups`) are created in the same transaction."""
        actions: list[Action] = [
            MessageItem.state.set(state.value),
            MessageItem.retried.set(retried),
            MessageItem.lease_token.remove(),
            MessageItem.lease_until.remove(),
            MessageItem.events.set(MessageItem.events.append([_event_map(event)])),
        ]
        if state is MessageState.FAILED:
            dlq_pk, dlq_sk = schema.list_key("DLQ", message_id, event.at)
            actions += self._leave_index(event.at, retention=self.dlq_retention)
            actions += [MessageItem.dlq_pk.set(dlq_pk), MessageItem.dlq_sk.set(dlq_sk)]
        elif state in TERMINAL:
            actions += self._leave_index(event.at, retention=self.retention)
        elif next_due is not None:
            actions += [
                MessageItem.due_at.set(next_due),
                MessageItem.wake_at.set(to_ms(next_due)),
                # Set again: a queued message its queue parked had left the index.
                MessageItem.wake_shard.set(schema.wake_shard(message_id)),
            ]
        condition: Condition = (MessageItem.state == MessageState.ACTIVE.value) & (
            MessageItem.lease_token == lease_token
        )
        item = MessageItem(_pk(message_id), _SK)
        if not follow_ups:
            with storage_errors(f"record {message_id}"):
                item.update(actions=actions, condition=condition)
            return to_message(item)
        # With callbacks: one transaction, so the attempt is never recorded without them.
        try:
            with TransactWrite(connection=MessageItem._get_connection().connection) as tx:
                tx.update(item, actions, condition)
                for follow_up in follow_ups:
                    tx.save(message_item(follow_up), condition=MessageItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise ConditionFailedError(f"record {message_id}: condition not met") from exc
        return self.get(message_id)

    def extend_lease(self, message_id: str, *, lease_token: str, until: datetime) -> None:
        with storage_errors(f"extend lease of {message_id}"):
            MessageItem(_pk(message_id), _SK).update(
                actions=[MessageItem.lease_until.set(until)],
                condition=(MessageItem.state == MessageState.ACTIVE.value)
                & (MessageItem.lease_token == lease_token),
            )

    def park(self, message_id: str, *, lease_token: str, state: MessageState) -> None:
        """Hand back an unadmitted claim: waiting again, out of the wake index."""
        with storage_errors(f"park {message_id}"):
            MessageItem(_pk(message_id), _SK).update(
                actions=[
                    MessageItem.state.set(state.value),
                    MessageItem.lease_token.remove(),
                    MessageItem.lease_until.remove(),
                    MessageItem.wake_shard.remove(),
                    MessageItem.wake_at.remove(),
                ],
                condition=(MessageItem.state == MessageState.ACTIVE.value)
                & (MessageItem.lease_token == lease_token),
            )

    def cancel(self, message_id: str, *, now: datetime) -> bool:
        """Cancel a pending message. True if this call cancelled it, False if it already was."""
        item = MessageItem(_pk(message_id), _SK)
        try:
            with storage_errors(f"cancel {message_id}"):
                item.update(
                    actions=[
                        MessageItem.state.set(MessageState.CANCELED.value),
                        MessageItem.lease_token.remove(),
                        MessageItem.lease_until.remove(),
                        MessageItem.events.set(
                            MessageItem.events.append([_event_map(Event(EventState.CANCELED, now))])
                        ),
                        *self._leave_index(now, retention=self.retention),
                    ],
                    condition=MessageItem.state.is_in(*(s.value for s in CANCELLABLE)),
                )
        except ConditionFailedError as exc:
            current = self.get(message_id)
            if current.state is MessageState.CANCELED:
                return False
            raise ConflictError(
                f"message {message_id} is already {current.state.value} and cannot be cancelled",
                current={"state": current.state.value},
            ) from exc
        return True

    def overdue(self, *, before: datetime, limit: int) -> list[TimerPayload]:
        """Timers of live items (messages, schedules, flow steps) whose wake time is before
        `before`, at most `limit` per shard.

        One query per shard of the sparse `wake` index: it holds only items some timer must
        still act on, so the read is in proportion to the overdue items, not to the table.
        """
        found: list[TimerPayload] = []
        cutoff = to_ms(before)
        for shard in range(schema.WAKE_SHARDS):
            with storage_errors(f"query wake shard {shard}"):
                items = MessageItem.wake_index.query(
                    str(shard), MessageItem.wake_at < cutoff, limit=limit
                )
                found.extend(
                    schema.timer_for(item.pk, item.sk, int(item.wake_at or 0)) for item in items
                )
        return found

    def newest(self, listing: Listing, *, cursor: str | None, count: int) -> Page:
        """Message ids newest first from the `list` (LOG) or `dlq` (DLQ) index.

        Each index is sharded (no hot partition at 1,000 writes/s), so a page is the newest
        `count` across every shard's newest `count`; the cursor wraps the last sort key.
        """
        index, sort_attr = (
            (MessageItem.dlq_index, MessageItem.dlq_sk)
            if listing is Listing.DLQ
            else (MessageItem.list_index, MessageItem.list_sk)
        )
        before = decode_cursor(cursor) if cursor else None
        keys: list[str] = []
        for shard in range(schema.WAKE_SHARDS):
            condition = sort_attr < before if before else None
            with storage_errors(f"list {listing.value}"):
                # One more than a page: all that is left may sit in one shard, and only the
                # extra key shows that it holds more than this page.
                items = index.query(
                    f"{listing.value}#{shard}",
                    condition,
                    scan_index_forward=False,
                    limit=count + 1,
                )
                keys.extend(str(getattr(item, sort_attr.attr_name)) for item in items)
        keys.sort(reverse=True)
        page = keys[:count]
        next_cursor = encode_cursor(page[-1]) if len(keys) > count and page else None
        return Page(
            [k.rsplit("#", 1)[1] for k in page], next_cursor, [encode_cursor(k) for k in page]
        )

    def pending_ids(self) -> list[str]:
        """Ids of every message some timer must still act on (the `wake` index, all shards)."""
        ids: list[str] = []
        for shard in range(schema.WAKE_SHARDS):
            with storage_errors(f"query wake shard {shard}"):
                ids.extend(
                    item.pk.removeprefix("MSG#")
                    for item in MessageItem.wake_index.query(str(shard))
                    if item.pk.startswith("MSG#")  # the index also wakes schedules and steps
                )
        return ids

    def get_many(self, message_ids: list[str]) -> list[Message]:
        """The messages that exist among `message_ids`, in the order asked."""
        found: dict[str, Message] = {}
        keys = [(_pk(m), _SK) for m in dict.fromkeys(message_ids)]
        with storage_errors("batch get"):
            for item in MessageItem.batch_get(keys):
                found[item.message_id] = to_message(item)
        return [found[m] for m in message_ids if m in found]

    def remove_from_dlq(self, message_id: str) -> bool:
        """Take a failed message out of the DLQ listing. False if it was not there."""
        item = MessageItem(_pk(message_id), _SK)
        try:
            with storage_errors(f"dlq remove {message_id}"):
                item.update(
                    actions=[MessageItem.dlq_pk.remove(), MessageItem.dlq_sk.remove()],
                    condition=MessageItem.dlq_pk.exists(),
                )
        except ConditionFailedError:
            return False
        return True

    def in_dlq(self, message_id: str) -> Message:
        item = self._item(message_id)
        if item is None or item.dlq_pk is None:
            raise NotFoundError(f"dlq message {message_id} not found")
        return to_message(item)

    @staticmethod
    def _item(message_id: str) -> MessageItem | None:
        try:
            return MessageItem.get(_pk(message_id), _SK)
        except MessageItem.DoesNotExist:
            return None

    @staticmethod
    def _leave_index(now: datetime, *, retention: timedelta) -> list[Action]:
        return [
            MessageItem.wake_shard.remove(),
            MessageItem.wake_at.remove(),
            MessageItem.expires_at.set(now + retention),
        ]
