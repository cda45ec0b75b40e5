"""What the URL-group API does, without HTTP: add and remove endpoints, read, delete, and
resolve a group for a publish. Every write is a compare-and-set, retried a few times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.domain.clock import Clock, to_ms
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.topics import (
    Topic,
    check_topic_name,
    parse_endpoints,
    removed,
    topic_view,
    upserted,
)
from functions.ports import ConditionFailedError, TopicStore

if TYPE_CHECKING:
    from collections.abc import Callable

ATTEMPTS = 5


@dataclass
class TopicService:
    store: TopicStore
    clock: Clock

    def upsert_endpoints(self, name: str, body: dict[str, Any] | None) -> None:
        check_topic_name(name)
        endpoints = parse_endpoints(body, removing=False)

        def change(current: Topic | None) -> None:
            topic = upserted(current, name, endpoints, now=self._version(current))
            self.store.save(topic, previous=current)

        self._retrying(name, change)

    def remove_endpoints(self, name: str, body: dict[str, Any] | None) -> None:
        check_topic_name(name)
        endpoints = parse_endpoints(body, removing=True)

        def change(current: Topic | None) -> None:
            if current is None:
                raise NotFoundError(f"URL group {name} not found")
            left = removed(current, endpoints, now=self._version(current))
            if left is None:
                self.store.delete(name, previous=current)
            else:
                self.store.save(left, previous=current)

        self._retrying(name, change)

    def delete(self, name: str) -> None:
        def change(current: Topic | None) -> None:
            if current is None:
                raise NotFoundError(f"URL group {name} not found")
            self.store.delete(name, previous=current)

        self._retrying(name, change)

    def get(self, name: str) -> dict[str, Any]:
        return topic_view(self.resolve(name))

    def all(self) -> list[dict[str, Any]]:
        return [topic_view(t) for t in self.store.all()]

    def resolve(self, name: str) -> Topic:
        topic = self.store.get(name)
        if topic is None:
            raise NotFoundError(f"URL group {name} not found")
        return topic

    def _version(self, current: Topic | None) -> datetime:
        """Now, but always after the version it replaces: the version is the CAS condition."""
        now = self.clock()
        if current is not None and to_ms(now) <= to_ms(current.updated_at):
            return current.updated_at + timedelta(milliseconds=1)
        return now

    def _retrying(self, name: str, change: Callable[[Topic | None], None]) -> None:
        for _ in range(ATTEMPTS):
            try:
                change(self.store.get(name))
            except ConditionFailedError:
                continue
            return
        raise ConflictError(f"URL group {name} is being changed by other requests; try again")
