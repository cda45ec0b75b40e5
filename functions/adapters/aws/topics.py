"""URL groups on DynamoDB: one item per group in the `TOPIC` partition, the group's document
as JSON. A group is read far more often (every publish to it) than written, and a deployment
has few, so one partition is plenty; writes are conditional on the version read before."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import TopicItem
from functions.domain.clock import to_ms
from functions.domain.topics import Topic, topic_document, topic_from_document

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition

_PK = "TOPIC"


class TopicStore:
    def get(self, name: str) -> Topic | None:
        with storage_errors(f"get URL group {name}"):
            try:
                item = TopicItem.get(_PK, name, consistent_read=True)
            except TopicItem.DoesNotExist:
                return None
        return topic_from_document(json.loads(item.doc))

    def all(self) -> list[Topic]:
        with storage_errors("list URL groups"):
            items = list(TopicItem.query(_PK, consistent_read=True))
        return [topic_from_document(json.loads(item.doc)) for item in items]

    def save(self, topic: Topic, *, previous: Topic | None) -> None:
        item = TopicItem(
            _PK,
            topic.name,
            updated_at_ms=to_ms(topic.updated_at),
            doc=json.dumps(topic_document(topic)),
        )
        with storage_errors(f"URL group {topic.name}"):
            item.save(condition=_unchanged(previous))

    def delete(self, name: str, *, previous: Topic) -> None:
        with storage_errors(f"URL group {name}"):
            TopicItem(_PK, name).delete(condition=_unchanged(previous))


def _unchanged(previous: Topic | None) -> Condition:
    if previous is None:
        return TopicItem.pk.does_not_exist()
    return TopicItem.updated_at_ms == to_ms(previous.updated_at)
