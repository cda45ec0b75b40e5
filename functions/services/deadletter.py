"""The dead-letter queue: failed messages, kept with their last response, until deleted,
retried, or expired by retention (DynamoDB TTL)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from functions.domain.clock import Clock, to_ms
from functions.domain.errors import NotFoundError
from functions.domain.filters import any_of
from functions.domain.messages import Message, MessageState, new_message_id
from functions.domain.views import dlq_view
from functions.ports import Listing, MessageStore
from functions.services.paging import newest_matching, page_size

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_PAGE = 100


@dataclass(frozen=True)
class DlqFilter:
    """Each field that is set must match (any of its values); every failed message when
    none is set. Times are when it failed, unix ms."""

    message_ids: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    schedule_ids: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    topic_names: tuple[str, ...] = ()
    queue_names: tuple[str, ...] = ()
    caller_ips: tuple[str, ...] = ()
    response_statuses: tuple[int, ...] = ()
    from_ms: int | None = None
    to_ms: int | None = None

    def matches(self, message: Message) -> bool:
        last = message.events[-1] if message.events else None
        failed_ms = to_ms(last.at) if last else 0
        status = last.response_status if last else None
        return (
            any_of(self.message_ids, message.message_id)
            and any_of(self.urls, message.url)
            and any_of(self.schedule_ids, message.schedule_id)
            and any_of(self.labels, message.label)
            and any_of(self.topic_names, message.options.get("topicName"))
            and any_of(self.queue_names, message.options.get("queueName"))
            and any_of(self.caller_ips, message.options.get("callerIP"))
            and any_of(self.response_statuses, status)
            and (self.from_ms is None or failed_ms >= self.from_ms)
            and (self.to_ms is None or failed_ms <= self.to_ms)
        )


@dataclass
class DeadLetters:
    store: MessageStore
    enqueue: Callable[[Message], None]
    clock: Clock

    def page(
        self, *, cursor: str | None, count: int | None, selection: DlqFilter
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest failures first, filtered, with a cursor for the next page."""
        messages, cursor = self._select(cursor=cursor, count=count, selection=selection)
        return [dlq_view(m) for m in messages], cursor

    def _select(
        self, *, cursor: str | None, count: int | None, selection: DlqFilter
    ) -> tuple[list[Message], str | None]:
        return newest_matching(
            self.store,
            Listing.DLQ,
            cursor=cursor,
            wanted=page_size(count, MAX_PAGE),
            matches=selection.matches,
        )

    def delete_matching(
        self, *, cursor: str | None, count: int | None, selection: DlqFilter
    ) -> tuple[int, str | None]:
        """Delete up to `count` failed messages the filter selects; the cursor continues."""
        messages, cursor = self._select(cursor=cursor, count=count, selection=selection)
        return self.delete_many([m.message_id for m in messages]), cursor

    def retry_matching(
        self, *, cursor: str | None, count: int | None, selection: DlqFilter
    ) -> tuple[list[str], str | None]:
        """Retry up to `count` failed messages the filter selects; the new ids, and a cursor."""
        messages, cursor = self._select(cursor=cursor, count=count, selection=selection)
        return [self._republish(m) for m in messages], cursor

    def retry_many(self, dlq_ids: list[str]) -> list[str]:
        """Retry each id once (an id named twice is one retry); all or none: an id not in
        the DLQ is a 404 naming it, raised before any is retried, so a refused request
        publishes nothing."""
        found: dict[str, Message] = {}
        missing: list[str] = []
        for dlq_id in dict.fromkeys(dlq_ids):
            try:
                found[dlq_id] = self.store.in_dlq(dlq_id)
            except NotFoundError:
                missing.append(dlq_id)
        if missing:
            raise NotFoundError(f"not in the dlq: {', '.join(missing)}")
        return [self._republish(failed) for failed in found.values()]

    def get(self, dlq_id: str) -> dict[str, Any]:
        return dlq_view(self.store.in_dlq(dlq_id))

    def delete(self, dlq_id: str) -> None:
        if not self.store.remove_from_dlq(dlq_id):
            raise NotFoundError(f"dlq message {dlq_id} not found")

    def delete_many(self, dlq_ids: list[str]) -> int:
        return sum(1 for dlq_id in dlq_ids if self.store.remove_from_dlq(dlq_id))

    def retry(self, dlq_id: str) -> str:
        return self._republish(self.store.in_dlq(dlq_id))

    def _republish(self, failed: Message) -> str:
        """Publish the failed request again as a new message, then take it out of the DLQ
        (in that order: a crash between the two leaves it in the DLQ, never lost)."""
        now = self.clock()
        again = replace(
            failed,
            message_id=new_message_id(),
            due_at=now,
            created_at=now,
            state=MessageState.CREATED,
            retried=0,
            lease_token=None,
            lease_until=None,
            events=(),
        )
        self.enqueue(again)
        self.store.remove_from_dlq(failed.message_id)
        return again.message_id
