"""`/v2/dlq`: list, read, delete and retry failed messages."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import (
    id_list,
    json_body,
    json_response,
    only_known,
    query_int,
    query_one,
)
from functions.domain.errors import ValidationError
from functions.services.deadletter import DlqFilter

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
LIST_FILTERS = frozenset(
    {"messageId", "url", "scheduleId", "label", "responseStatus", "fromDate", "toDate"}
    | {"cursor", "count"}
)


@router.get("/v2/dlq")
def list_dlq() -> Response[Any]:
    event = router.current_event
    only_known(None, event, LIST_FILTERS)
    selection = DlqFilter(
        message_id=query_one(event, "messageId"),
        url=query_one(event, "url"),
        schedule_id=query_one(event, "scheduleId"),
        label=query_one(event, "label"),
        response_status=query_int(event, "responseStatus"),
        from_ms=query_int(event, "fromDate"),
        to_ms=query_int(event, "toDate"),
    )
    messages, cursor = wiring.graph().dead_letters.page(
        cursor=query_one(event, "cursor"), count=query_int(event, "count"), selection=selection
    )
    body: dict[str, Any] = {"messages": messages}
    if cursor:
        body["cursor"] = cursor
    return json_response(200, body)


@router.get("/v2/dlq/<dlq_id>")
def get_dlq(dlq_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().dead_letters.get(dlq_id))


@router.delete("/v2/dlq/<dlq_id>")
def delete_dlq(dlq_id: str) -> Response[Any]:
    wiring.graph().dead_letters.delete(dlq_id)
    return json_response(200, {"deleted": 1})


def _ids() -> list[str]:
    event = router.current_event
    data = json_body(event)
    only_known(data, event, frozenset({"dlqIds"}))
    ids = id_list(data, event, "dlqIds")
    if not ids:
        raise ValidationError("dlqIds is required (JSON body or query), e.g. ?dlqIds=a&dlqIds=b")
    return ids


@router.delete("/v2/dlq")
def delete_many_dlq() -> Response[Any]:
    return json_response(200, {"deleted": wiring.graph().dead_letters.delete_many(_ids())})


@router.post("/v2/dlq/retry/<dlq_id>")
def retry_dlq(dlq_id: str) -> Response[Any]:
    return json_response(200, {"messageId": wiring.graph().dead_letters.retry(dlq_id)})


@router.post("/v2/dlq/retry")
def retry_many_dlq() -> Response[Any]:
    dead = wiring.graph().dead_letters
    return json_response(
        200, {"responses": [{"messageId": dead.retry(dlq_id)} for dlq_id in _ids()]}
    )
