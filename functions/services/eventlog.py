"""The event log (`GET /v2/events`, `/v2/logs`): each message's events, newest messages first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.domain.clock import to_ms
from functions.domain.errors import NotFoundError
from functions.domain.views import event_view
from functions.ports import Listing, MessageStore
from functions.services.paging import page_size

if TYPE_CHECKING:
    from functions.domain.messages import Event, Message

MAX_PAGE = 1000


@dataclass(frozen=True)
class EventFilter:
    message_ids: tuple[str, ...] = ()
    state: str | None = None
    url: str | None = None
    schedule_id: str | None = None
    label: str | None = None
    queue_name: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    def message_matches(self, message: Message) -> bool:
        return (
            (self.url is None or message.url == self.url)
            and (self.schedule_id is None or message.schedule_id == self.schedule_id)
            and (self.label is None or message.label == self.label)
            and (self.queue_name is None or message.options.get("queueName") == self.queue_name)
        )

    def event_matches(self, event: Event) -> bool:
        at = to_ms(event.at)
        return (
            (self.state is None or event.state.value == self.state)
            and (self.from_ms is None or at >= self.from_ms)
            and (self.to_ms is None or at <= self.to_ms)
        )


@dataclass
class EventLog:
    store: MessageStore

    def page(
        self, *, cursor: str | None, count: int | None, selection: EventFilter
    ) -> tuple[list[dict[str, Any]], str | None]:
        wanted = page_size(count, MAX_PAGE)
        if selection.message_ids:
            messages = self.store.get_many(list(selection.message_ids))
            return self._events(messages, selection)[:wanted], None
        found: list[dict[str, Any]] = []
        while len(found) < wanted:
            page = self.store.newest(Listing.LOG, cursor=cursor, count=wanted)
            cursor = page.cursor
            found.extend(self._events(self.store.get_many(page.ids), selection))
            if cursor is None:
                break
        # A page ends on a message boundary, so the cursor never splits a message's events.
        return found, cursor

    @staticmethod
    def _events(messages: list[Message], selection: EventFilter) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for message in messages:
            if not selection.message_matches(message):
                continue
            rows.extend(
                event_view(message, event)
                for event in reversed(message.events)
                if selection.event_matches(event)
            )
        return rows

    def for_message(self, message_id: str) -> list[dict[str, Any]]:
        messages = self.store.get_many([message_id])
        if not messages:
            raise NotFoundError(f"message {message_id} not found")
        return self._events(messages, EventFilter())
