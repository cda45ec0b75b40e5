"""The shape of a `POST /v2/batch` body: a JSON array of messages, each `{"destination",
"headers", "body", "queue"}` as the QStash SDKs send it. Pure: each item is checked here and
then as a publish (domain.publish), and an error names the item's index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.domain.errors import ValidationError
from functions.domain.queues import is_queue_name
from functions.domain.topics import is_topic_name

MAX_BATCH_ITEMS = 100
ITEM_FIELDS = frozenset({"destination", "headers", "body", "queue"})


@dataclass(frozen=True)
class BatchItem:
    destination: str  # an http(s) URL, or the name of a URL group
    headers: dict[str, str]
    body: bytes
    queue: str | None = None  # enqueue to this queue instead of publishing

    @property
    def to_group(self) -> bool:
        return not self.destination.startswith(("http://", "https://"))


def parse_batch(data: Any) -> list[BatchItem]:
    """The items of a batch body, or a ValidationError naming the first bad one."""
    if not isinstance(data, list):
        raise ValidationError("the batch body must be a JSON array of messages")
    if not data:
        raise ValidationError("the batch is empty: send at least one message")
    if len(data) > MAX_BATCH_ITEMS:
        raise ValidationError(f"the batch holds {len(data)} messages; at most {MAX_BATCH_ITEMS}")
    return [_item(index, raw) for index, raw in enumerate(data)]


def item_error(index: int, problem: str) -> ValidationError:
    return ValidationError(f"batch message {index}: {problem}")


def _item(index: int, raw: Any) -> BatchItem:
    if not isinstance(raw, dict):
        raise item_error(index, "must be a JSON object")
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise item_error(
            index, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(ITEM_FIELDS))}"
        )
    queue = raw.get("queue")
    if queue is not None and (not isinstance(queue, str) or not is_queue_name(queue)):
        raise item_error(index, "queue must be a queue name: 1-128 letters, digits, '_-.'")
    destination = raw.get("destination")
    if not isinstance(destination, str) or not destination:
        raise item_error(index, "destination is required: an http(s) URL")
    if not destination.startswith(("http://", "https://")) and not is_topic_name(destination):
        raise item_error(
            index, f"destination {destination[:200]!r} is neither an http(s) URL nor a URL group"
        )
    return BatchItem(
        destination, _headers(index, raw.get("headers")), _body(index, raw), queue=queue
    )


def _headers(index: int, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise item_error(index, "headers must be an object of header names to string values")
    return dict(raw)


def _body(index: int, raw: dict[str, Any]) -> bytes:
    body = raw.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise item_error(index, "body must be a string (batchJSON sends JSON text)")
    try:
        return body.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate from \ud800 in the JSON
        raise item_error(index, f"body is not valid Unicode text ({exc.reason})") from exc
