"""The dead-letter queue: failed messages, kept with their last response, until deleted,
retried, or expired by retention (DynamoDB TTL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from functions.domain.clock import Clock, to_ms
from functions.domain.errors import NotFoundError, ValidationError
from functions.domain.messages import Message, MessageState, new_message_id
from functions.domain.views import dlq_view
from functions.ports import Listing, MessageStore

MAX_PAGE = 100


@dataclass(frozen=True)
class DlqFilter:
    message_id: str | None = None
    url: str | None = None
    schedule_id: str | None = None
    label: str | None = None
    response_status: int | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    def matches(self, message: Message) -> bool:
        last = message.events[-1] if message.events else None
        failed_ms = to_ms(last.at) if last else 0
        return (
            (self.message_id is None or message.message_id == self.message_id)
            and (self.url is None or message.url == self.url)
            and (self.schedule_id is None or message.schedule_id == self.schedule_id)
            and (self.label is None or message.label == self.label)
            and (
                self.response_status is None
                or (last is not None and last.response_status == self.response_status)
            )
            and (self.from_ms is None or failed_ms >= self.from_ms)
            and (self.to_ms is None or failed_ms <= self.to_ms)
        )


def page_size(count: int | None, maximum: int) -> int:
    if count is None:
        return maximum
    if not 1 <= count <= maximum:
        raise ValidationError(f"count must be between 1 and {maximum}, got {count}")
    return count


@dataclass
class DeadLetters:
    store: MessageStore
    enqueue: Callable[[Message], None]
    clock: Clock

    def page(
        self, *, cursor: str | None, count: int | None, selection: DlqFilter
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest failures first, filtered, with a cursor for the next page."""
        wanted = page_size(count, MAX_PAGE)
        found: list[dict[str, Any]] = []
        while len(found) < wanted:
            page = self.store.newest(Listing.DLQ, cursor=cursor, count=wanted)
            cursor = page.cursor
            for message in self.store.get_many(page.ids):
                if selection.matches(message) and len(found) < wanted:
                    found.append(dlq_view(message))
            if cursor is None:
                break
        return found, cursor

    def get(self, dlq_id: str) -> dict[str, Any]:
        return dlq_view(self.store.in_dlq(dlq_id))

    def delete(self, dlq_id: str) -> None:
        if not self.store.remove_from_dlq(dlq_id):
            raise NotFoundError(f"dlq message {dlq_id} not found")

    def delete_many(self, dlq_ids: list[str]) -> int:
        return sum(1 for dlq_id in dlq_ids if self.store.remove_from_dlq(dlq_id))

    def retry(self, dlq_id: str) -> str:
        """Publish the failed request again as a new message, then take it out of the DLQ."""
        failed = self.store.in_dlq(dlq_id)
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
        self.store.remove_from_dlq(dlq_id)
        return again.message_id
