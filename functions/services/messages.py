"""What the messages API does, without HTTP: publish, read, cancel. Handlers call these."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.domain.batch import BatchItem, item_error
from functions.domain.clock import Clock, to_ms
from functions.domain.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from functions.domain.filters import any_of
from functions.domain.messages import CANCELLABLE, Message, MessageState
from functions.domain.publish import Headers, PublishLimits, dedup_key, parse_publish
from functions.domain.queues import QUEUE_OPTION, member_of
from functions.domain.retry import validate_retry_delay
from functions.domain.timers import TimerPayload
from functions.domain.views import message_view
from functions.ports import (
    ConditionFailedError,
    DedupClaim,
    DuplicateMessageError,
    Listing,
    MessageStore,
    TimerPort,
)
from functions.services.paging import newest_matching, page_size

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from functions.domain.topics import Topic
    from functions.services.killswitches import KillSwitches
    from functions.services.queues import QueueService

DEDUP_WINDOW = timedelta(minutes=10)
MAX_BULK = 1000
MAX_PAGE = 100


@dataclass(frozen=True)
class Published:
    message_id: str
    deduplicated: bool = False
    url: str | None = None  # the endpoint's, for a publish to a URL group


@dataclass(frozen=True)
class MessageFilter:
    """Which messages a listing or a bulk cancel selects: each field that is set must match
    (any of its values); every message when none is set (a cancel then takes every pending
    one)."""

    states: tuple[MessageState, ...] = ()
    urls: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    schedule_ids: tuple[str, ...] = ()
    topic_names: tuple[str, ...] = ()
    queue_names: tuple[str, ...] = ()
    flow_control_keys: tuple[str, ...] = ()
    from_ms: int | None = None  # created at or after
    to_ms: int | None = None  # created at or before

    def matches(self, message: Message) -> bool:
        created = to_ms(message.created_at)
        return (
            any_of(self.states, message.state)
            and any_of(self.urls, message.url)
            and any_of(self.labels, message.label)
            and any_of(self.schedule_ids, message.schedule_id)
            and any_of(self.topic_names, message.options.get("topicName"))
            and any_of(self.queue_names, message.options.get(QUEUE_OPTION))
            and any_of(self.flow_control_keys, message.options.get("flowControlKey"))
            and (self.from_ms is None or created >= self.from_ms)
            and (self.to_ms is None or created <= self.to_ms)
        )


@dataclass
class MessageService:
    store: MessageStore
    timers: TimerPort
    clock: Clock
    limits: PublishLimits
    switches: KillSwitches | None = None
    dedup_window: timedelta = DEDUP_WINDOW
    groups: Callable[[str], Topic] | None = None  # a URL group by name (404 when unknown)
    queues: QueueService | None = None

    def publish(
        self,
        *,
        destination: str,
        headers: Mapping[str, str],
        body: bytes,
        queue: str | None = None,
        caller_ip: str | None = None,
    ) -> Published:
        """Validate, write the record (with its dedup id), then arm its timer: in that order.
        A queued message takes its place in its queue instead, which wakes it in turn."""
        if self.switches is not None:
            self.switches.check(what="message")
        now = self.clock()
        prepared = self._prepare(
            destination, headers, body, now=now, queue=queue, caller_ip=caller_ip
        )
        return self._store(*prepared, now=now)

    def publish_to_group(
        self,
        *,
        group: str,
        headers: Mapping[str, str],
        body: bytes,
        queue: str | None = None,
        caller_ip: str | None = None,
    ) -> list[Published]:
        """One message per endpoint of the group, all validated before any is written."""
        if self.switches is not None:
            self.switches.check(what="message")
        now = self.clock()
        prepared = self._prepare_group(
            group, headers, body, now=now, queue=queue, caller_ip=caller_ip
        )
        return [self._store(message, claim, now=now) for message, claim in prepared]

    def publish_batch(
        self, items: list[BatchItem], *, caller_ip: str | None = None
    ) -> list[Published | list[Published]]:
        """Every item validated before any is written, so a bad one (named by its index)
        writes nothing; then each is published in order, a URL group's as a nested list.
        Items with one deduplication id deduplicate against each other as separate publishes
        would."""
        if self.switches is not None:
            self.switches.check(what="message")
        now = self.clock()
        prepared: list[list[tuple[Message, DedupClaim | None]]] = []
        for index, item in enumerate(items):
            try:
                if item.to_group:
                    prepared.append(
                        self._prepare_group(
                            item.destination,
                            item.headers,
                            item.body,
                            now=now,
                            queue=item.queue,
                            caller_ip=caller_ip,
                        )
                    )
                else:
                    prepared.append(
                        [
                            self._prepare(
                                item.destination,
                                item.headers,
                                item.body,
                                now=now,
                                queue=item.queue,
                                caller_ip=caller_ip,
                            )
                        ]
                    )
            except ValidationError as exc:
                raise item_error(index, str(exc)) from exc
            except (PayloadTooLargeError, NotFoundError) as exc:
                raise type(exc)(f"batch message {index}: {exc}") from exc
        answers: list[Published | list[Published]] = []
        position = 0
        for item, messages in zip(items, prepared, strict=True):
            stored = []
            for message, claim in messages:
                # A microsecond apart, so a queue keeps the batch's order (its order key is
                # the creation time) and the event log lists it as sent.
                in_order = replace(message, created_at=now + timedelta(microseconds=position))
                stored.append(self._store(in_order, claim, now=now))
                position += 1
            answers.append(stored if item.to_group else stored[0])
        return answers

    def _prepare_group(
        self,
        group: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime,
        queue: str | None = None,
        caller_ip: str | None = None,
    ) -> list[tuple[Message, DedupClaim | None]]:
        if self.groups is None:
            raise NotFoundError(f"URL group {group} not found")
        topic = self.groups(group)
        prepared = []
        for endpoint in topic.endpoints:
            message, claim = self._prepare(
                endpoint.url, headers, body, now=now, queue=queue, caller_ip=caller_ip
            )
            named = {"topicName": topic.name}
            if endpoint.name:
                named["endpointName"] = endpoint.name
            message = replace(message, options={**message.options, **named})
            if claim is not None:  # one deduplication id covers the group's endpoints apart
                claim = replace(claim, key=f"{claim.key}@{endpoint.url}")
            prepared.append((message, claim))
        return prepared

    def _prepare(
        self,
        destination: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime,
        queue: str | None = None,
        caller_ip: str | None = None,
    ) -> tuple[Message, DedupClaim | None]:
        message = parse_publish(
            destination=destination,
            headers=headers,
            body=body,
            now=now,
            limits=self.limits,
            queue=queue,
            caller_ip=caller_ip,
        )
        queue_name = message.options.get(QUEUE_OPTION)
        if member_of(message) is not None and self.queues is None:
            raise ValidationError("queues and flow control are not available here")
        if self.switches is not None:  # a route's own switch (url:<prefix>, queue:<name>)
            self.switches.check(url=message.url, what=f"message to {message.url}")
            if queue_name is not None:
                self.switches.check(queue=queue_name, what=f"message to queue {queue_name}")
        if message.retry_delay is not None:
            validate_retry_delay(message.retry_delay)
        key = dedup_key(Headers(headers), message)
        return message, DedupClaim(key=key, now=now, window=self.dedup_window) if key else None

    def _store(self, message: Message, claim: DedupClaim | None, *, now: datetime) -> Published:
        url = message.url if "topicName" in message.options else None
        member = member_of(message)
        # A queued message takes its place in line first, then is written parked (in no wake
        # index: its queue wakes it), then the queue admits what it can. A crash between the
        # join and the write leaves a member without a message, which the queue's reconcile
        # drops. A flow-controlled message joins when due (at its first claim), so a delayed
        # one holds no slot and spends no rate while it waits.
        queue = self.queues if QUEUE_OPTION in message.options else None
        if queue is not None and member is not None:
            queue.join(member)
        try:
            self.store.create(message, dedup=claim, parked=queue is not None)
        except DuplicateMessageError as duplicate:
            if queue is not None and member is not None:
                queue.withdraw(member)
            return Published(duplicate.first_message_id, deduplicated=True, url=url)
        if queue is not None and member is not None:
            queue.drain(member.queue)
        else:
            self.timers.arm(TimerPayload(message.message_id, message.due_at), now=now)
        return Published(message.message_id, url=url)

    def enqueue(self, message: Message) -> None:
        """Store and arm an internally built message (a callback); repeating it is harmless."""
        try:
            self.store.create(message)
        except ConditionFailedError:
            return  # already enqueued by an earlier run of the same attempt
        self.timers.arm(TimerPayload(message.message_id, message.due_at), now=self.clock())

    def get(self, message_id: str) -> dict[str, Any]:
        return message_view(self.store.get(message_id))

    def page(
        self, *, cursor: str | None, count: int | None, selection: MessageFilter
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest messages first, in any state, filtered, with a cursor for the next page."""
        messages, cursor = newest_matching(
            self.store,
            Listing.LOG,
            cursor=cursor,
            wanted=page_size(count, MAX_PAGE),
            matches=selection.matches,
        )
        return [message_view(m) for m in messages], cursor

    def cancel(self, message_id: str) -> bool:
        """Cancel; an armed EventBridge schedule is deleted, a queued SQS timer will find it
        cancelled and send nothing."""
        message = self.store.get(message_id)
        cancelled = self.store.cancel(message_id, now=self.clock())
        if cancelled:
            self._cancelled(message)
        return cancelled

    def cancel_many(
        self, message_ids: list[str] | None, selection: MessageFilter, *, count: int | None = None
    ) -> int:
        """Cancel the given ids, or every pending message the filter selects (at most `count`
        of them). Returns how many this call cancelled; finished or unknown ids are skipped,
        not errors."""
        if count is not None and not 1 <= count <= MAX_BULK:
            raise ValidationError(f"count must be between 1 and {MAX_BULK}, got {count}")
        if message_ids is not None:
            if len(message_ids) > MAX_BULK:
                raise ValidationError(
                    f"messageIds holds {len(message_ids)} ids; at most {MAX_BULK}"
                )
            candidates: Iterable[Message] = self.store.get_many(message_ids)
        else:
            # Parked queued messages wait outside the wake index, in their queue.
            parked = self.queues.member_ids() if self.queues is not None else []
            pending = list(dict.fromkeys([*self.store.pending_ids(), *parked]))
            candidates = self._loaded_in_chunks(pending)
        cancelled = 0
        for message in candidates:
            if count is not None and cancelled >= count:
                break  # the rest are never loaded: a batch costs its own size, not the backlog
            if message.state not in CANCELLABLE or not selection.matches(message):
                continue
            try:
                if self.store.cancel(message.message_id, now=self.clock()):
                    self._cancelled(message)
                    cancelled += 1
            except ConflictError:
                continue  # finished while we looked
        return cancelled

    def _loaded_in_chunks(self, message_ids: list[str]) -> Iterator[Message]:
        for start in range(0, len(message_ids), MAX_BULK):
            yield from self.store.get_many(message_ids[start : start + MAX_BULK])

    def _cancelled(self, message: Message) -> None:
        """An armed EventBridge schedule is deleted; a queued message frees its place, unless
        an attempt is still on the wire: its slot is freed when that attempt's record is
        refused, by the queue's reconcile, so the lane never has one more in flight."""
        self.timers.disarm(message.message_id, message.due_at)
        attempt_live = (
            message.state is MessageState.ACTIVE
            and message.lease_until is not None
            and message.lease_until > self.clock()
        )
        if self.queues is not None and not attempt_live:
            self.queues.finished(message)
