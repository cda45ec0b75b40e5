"""`/v2/publish`, `/v2/messages`, `/v2/keys`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import id_list, json_body, json_response, query_one, raw_body
from functions.domain.publish import destination_from_path
from functions.services.messages import CancelFilter

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PUBLISH_PREFIX = "/v2/publish/"


@router.post("/v2/publish/.+")
def publish() -> Response[Any]:
    event = router.current_event
    raw_path: str = event.raw_path
    destination = destination_from_path(
        raw_path[len(PUBLISH_PREFIX) :], event.raw_query_string or ""
    )
    published = wiring.graph().message_service.publish(
        destination=destination, headers=dict(event.headers), body=raw_body(event)
    )
    if published.deduplicated:
        return json_response(202, {"messageId": published.message_id, "deduplicated": True})
    return json_response(201, {"messageId": published.message_id})


@router.get("/v2/messages/<message_id>")
def get_message(message_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().message_service.get(message_id))


@router.delete("/v2/messages/<message_id>")
def cancel_message(message_id: str) -> Response[Any]:
    cancelled = wiring.graph().message_service.cancel(message_id)
    return json_response(200, {"cancelled": int(cancelled)})


@router.delete("/v2/messages")
def cancel_messages() -> Response[Any]:
    """Bulk cancel: `messageIds` (JSON body or query), else filters, else every pending one."""
    event = router.current_event
    data = json_body(event)
    ids = id_list(data, event, "messageIds")
    source = data or {}
    selection = CancelFilter(
        url=source.get("url") or query_one(event, "url"),
        label=source.get("label") or query_one(event, "label"),
        schedule_id=source.get("scheduleId") or query_one(event, "scheduleId"),
    )
    cancelled = wiring.graph().message_service.cancel_many(ids, selection)
    return json_response(200, {"cancelled": cancelled})


@router.get("/v2/keys")
def signing_keys() -> Response[Any]:
    current = wiring.graph().adapters.keys.signing_keys()
    return json_response(200, {"current": current.current, "next": current.next})
