"""Which messages a listing or bulk call selects, as the API's filters name them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from duetime.client.calls import FilterValue, Query, filters


def _ms(at: datetime | None) -> int | None:
    if at is None:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("filter times must be timezone-aware: a naive one is ambiguous")
    return int(at.timestamp() * 1000)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class _Filter:
    """Each field given must match (any of its values, for a sequence)."""

    from_date: datetime | None = None
    to_date: datetime | None = None

    def as_mapping(self) -> dict[str, FilterValue]:
        given: dict[str, FilterValue] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, datetime):
                value = _ms(value)
            if value is not None and value != ():
                given[_camel(spec.name)] = value
        return given

    def query(self) -> Query:
        return filters(self.as_mapping())

    def body(self) -> dict[str, Any]:
        return {
            name: list(value)
            if isinstance(value, Sequence) and not isinstance(value, str)
            else value
            for name, value in self.as_mapping().items()
        }

    def is_empty(self) -> bool:
        return not self.as_mapping()


@dataclass(frozen=True)
class MessageFilter(_Filter):
    """Messages by state (listing only), destination, label, schedule, group, queue or
    flow-control key; from/to on when they were created."""

    state: str | Sequence[str] | None = None
    url: str | Sequence[str] | None = None
    label: str | Sequence[str] | None = None
    schedule_id: str | Sequence[str] | None = None
    topic_name: str | Sequence[str] | None = None
    queue_name: str | Sequence[str] | None = None
    flow_control_key: str | Sequence[str] | None = None


@dataclass(frozen=True)
class DlqFilter(_Filter):
    """Failed messages by id, destination, label, schedule, group, queue, caller or last
    response status; from/to on when they failed."""

    message_id: str | Sequence[str] | None = None
    url: str | Sequence[str] | None = None
    label: str | Sequence[str] | None = None
    schedule_id: str | Sequence[str] | None = None
    topic_name: str | Sequence[str] | None = None
    queue_name: str | Sequence[str] | None = None
    caller_ip: str | Sequence[str] | None = None
    response_status: int | Sequence[int] | None = None
