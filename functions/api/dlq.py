"""`/v2/dlq`: list, read, delete and retry failed messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import (
    id_list,
    int_field,
    json_body,
    json_response,
    multi_filter,
    multi_int_filter,
    only_known,
    page_response,
    query,
    query_int,
    query_one,
)
from functions.domain.errors import ValidationError
from functions.services.deadletter import DlqFilter

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
FILTERS = frozenset(
    {"messageId", "url", "scheduleId", "label", "topicName", "queueName", "responseStatus"}
    | {"callerIp"}
    | {"fromDate", "toDate"}
)
LIST_FILTERS = FILTERS | {"cursor", "count"}
BULK_FIELDS = FILTERS | {"dlqIds", "cursor", "count", "all"}


def _selection(data: dict[str, Any] | None, event: APIGatewayProxyEventV2) -> DlqFilter:
    return DlqFilter(
        message_ids=multi_filter(data, event, "messageId"),
        urls=multi_filter(data, event, "url"),
        schedule_ids=multi_filter(data, event, "scheduleId"),
        labels=multi_filter(data, event, "label"),
        topic_names=multi_filter(data, event, "topicName"),
        queue_names=multi_filter(data, event, "queueName"),
        caller_ips=multi_filter(data, event, "callerIp"),
        response_statuses=multi_int_filter(data, event, "responseStatus"),
        from_ms=int_field(data, event, "fromDate"),
        to_ms=int_field(data, event, "toDate"),
    )


@router.get("/v2/dlq")
def list_dlq() -> Response[Any]:
    event = router.current_event
    only_known(None, event, LIST_FILTERS)
    messages, cursor = wiring.graph().dead_letters.page(
        cursor=query_one(event, "cursor"),
        count=query_int(event, "count"),
        selection=_selection(None, event),
    )
    return page_response("messages", messages, cursor)


@router.get("/v2/dlq/<dlq_id>")
def get_dlq(dlq_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().dead_letters.get(dlq_id))


@router.delete("/v2/dlq/<dlq_id>")
def delete_dlq(dlq_id: str) -> Response[Any]:
    wiring.graph().dead_letters.delete(dlq_id)
    return json_response(200, {"deleted": 1})


@dataclass(frozen=True)
class _Bulk:
    """What a bulk DLQ action targets: ids, or a filter (or everything) page by page."""

    ids: list[str] | None
    selection: DlqFilter
    count: int | None
    cursor: str | None


def _bulk() -> _Bulk:
    event = router.current_event
    data = json_body(event)
    only_known(data, event, BULK_FIELDS)
    ids = id_list(data, event, "dlqIds")
    given = set(data or {}) | set(query(event))
    if ids is not None:
        if not ids:
            raise ValidationError("dlqIds is empty; to act on every failed message send all=true")
        return _Bulk(ids, DlqFilter(), None, None)
    if not given & (FILTERS | {"count", "cursor", "all"}):
        # Only an explicit form may reach every message: never an empty request by accident.
        raise ValidationError(
            "name the messages: dlqIds, a filter (" + ", ".join(sorted(FILTERS)) + "), "
            "or all=true (or a count, as @upstash/qstash's all: true sends)"
        )
    all_value = (data or {}).get("all", query_one(event, "all"))
    if all_value not in (None, True, "true"):
        raise ValidationError(f"all must be true, got {all_value!r}")
    cursor = (data or {}).get("cursor", query_one(event, "cursor"))
    if cursor is not None and not isinstance(cursor, str):
        raise ValidationError("cursor must be a string")
    return _Bulk(None, _selection(data, event), int_field(data, event, "count"), cursor)


def _with_cursor(body: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    return {**body, "cursor": cursor} if cursor else body


@router.delete("/v2/dlq")
def delete_many_dlq() -> Response[Any]:
    """By `dlqIds`, or by filter or all, at most `count` (default 100) per call with a cursor."""
    bulk, dead = _bulk(), wiring.graph().dead_letters
    if bulk.ids is not None:
        return json_response(200, {"deleted": dead.delete_many(bulk.ids)})
    deleted, cursor = dead.delete_matching(
        cursor=bulk.cursor, count=bulk.count, selection=bulk.selection
    )
    return json_response(200, _with_cursor({"deleted": deleted}, cursor))


@router.post("/v2/dlq/retry/<dlq_id>")
def retry_dlq(dlq_id: str) -> Response[Any]:
    return json_response(200, {"messageId": wiring.graph().dead_letters.retry(dlq_id)})


@router.post("/v2/dlq/retry")
def retry_many_dlq() -> Response[Any]:
    bulk, dead = _bulk(), wiring.graph().dead_letters
    if bulk.ids is not None:
        retried_ids = dead.retry_many(bulk.ids)
        return json_response(200, {"responses": [{"messageId": m} for m in retried_ids]})
    retried, cursor = dead.retry_matching(
        cursor=bulk.cursor, count=bulk.count, selection=bulk.selection
    )
    return json_response(
        200, _with_cursor({"responses": [{"messageId": m} for m in retried]}, cursor)
    )
