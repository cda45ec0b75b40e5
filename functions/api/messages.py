"""`/v2/publish`, `/v2/batch`, `/v2/messages`, `/v2/keys` and `/v2/keys/rotate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import (
    caller_ip,
    id_list,
    int_field,
    json_body,
    json_response,
    json_value,
    multi_filter,
    only_known,
    page_response,
    query_int,
    query_one,
    raw_body,
)
from functions.domain.batch import parse_batch
from functions.domain.errors import ValidationError
from functions.domain.messages import MessageState
from functions.domain.publish import destination_from_path
from functions.domain.signing import new_signing_key
from functions.domain.topics import is_topic_name
from functions.observability import logger
from functions.services.messages import MessageFilter, Published

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PUBLISH_PREFIX = "/v2/publish/"
FILTERS = frozenset(
    {"url", "label", "scheduleId", "topicName", "queueName", "flowControlKey"}
    | {"fromDate", "toDate"}
)
BULK_CANCEL_FIELDS = FILTERS | {"messageIds", "count"}
LIST_FIELDS = FILTERS | {"state", "cursor", "count"}


@router.post("/v2/publish/.+")
def publish() -> Response[Any]:
    event = router.current_event
    raw_path: str = event.raw_path
    tail = raw_path[len(PUBLISH_PREFIX) :]
    service = wiring.graph().message_service
    if is_topic_name(tail):  # a URL group: one message per endpoint
        fanned = service.publish_to_group(
            group=tail,
            headers=dict(event.headers),
            body=raw_body(event),
            caller_ip=caller_ip(event),
        )
        return json_response(201, [answer(p) for p in fanned])
    destination = destination_from_path(tail, event.raw_query_string or "")
    published = service.publish(
        destination=destination,
        headers=dict(event.headers),
        body=raw_body(event),
        caller_ip=caller_ip(event),
    )
    if published.deduplicated:
        return json_response(202, {"messageId": published.message_id, "deduplicated": True})
    return json_response(201, {"messageId": published.message_id})


@router.post("/v2/batch")
def publish_batch() -> Response[Any]:
    """Many publishes in one request: the answer lines up with the input array."""
    event = router.current_event
    items = parse_batch(json_value(event))
    published = wiring.graph().message_service.publish_batch(items, caller_ip=caller_ip(event))
    return json_response(
        201, [[answer(g) for g in p] if isinstance(p, list) else answer(p) for p in published]
    )


def answer(published: Published) -> dict[str, Any]:
    """One message's answer as the SDKs parse it: `url` for a URL group's endpoints."""
    view: dict[str, Any] = {"messageId": published.message_id}
    if published.url is not None:
        view["url"] = published.url
    if published.deduplicated:
        view["deduplicated"] = True
    return view


@router.get("/v2/messages/<message_id>")
def get_message(message_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().message_service.get(message_id))


@router.delete("/v2/messages/<message_id>")
def cancel_message(message_id: str) -> Response[Any]:
    cancelled = wiring.graph().message_service.cancel(message_id)
    return json_response(200, {"cancelled": int(cancelled)})


@router.delete("/v2/messages")
def cancel_messages() -> Response[Any]:
    """Bulk cancel: `messageIds` (JSON body or query), else filters, else every pending one.

    Only no body and no query at all means "every pending message" (what the SDKs'
    cancel-all sends); an unknown or unsupported field or filter is a 400 naming it."""
    event = router.current_event
    data = json_body(event)
    only_known(data, event, BULK_CANCEL_FIELDS)
    ids = id_list(data, event, "messageIds")
    cancelled = wiring.graph().message_service.cancel_many(
        ids, _selection(data, event), count=int_field(data, event, "count")
    )
    return json_response(200, {"cancelled": cancelled})


@router.get("/v2/messages")
def list_messages() -> Response[Any]:
    """Newest first, any state (duetime's own: QStash has no message listing)."""
    event = router.current_event
    only_known(None, event, LIST_FIELDS)
    messages, cursor = wiring.graph().message_service.page(
        cursor=query_one(event, "cursor"),
        count=query_int(event, "count"),
        selection=_selection(None, event),
    )
    return page_response("messages", messages, cursor)


def _selection(data: dict[str, Any] | None, event: APIGatewayProxyEventV2) -> MessageFilter:
    return MessageFilter(
        states=_states(multi_filter(data, event, "state")),
        urls=multi_filter(data, event, "url"),
        labels=multi_filter(data, event, "label"),
        schedule_ids=multi_filter(data, event, "scheduleId"),
        topic_names=multi_filter(data, event, "topicName"),
        queue_names=multi_filter(data, event, "queueName"),
        flow_control_keys=multi_filter(data, event, "flowControlKey"),
        from_ms=int_field(data, event, "fromDate"),
        to_ms=int_field(data, event, "toDate"),
    )


def _states(names: tuple[str, ...]) -> tuple[MessageState, ...]:
    known = {state.value for state in MessageState}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationError(
            f"state {', '.join(unknown)} is not one of {', '.join(sorted(known))}"
        )
    return tuple(MessageState(name) for name in names)


@router.get("/v2/keys")
def signing_keys() -> Response[Any]:
    current = wiring.graph().adapters.keys.signing_keys()
    return json_response(200, {"current": current.current, "next": current.next})


@router.post("/v2/keys/rotate")
def rotate_signing_keys() -> Response[Any]:
    """Next becomes current and a new next is made (QStash's rotation); the old current keeps
    signing the Standard Webhooks header for a day (domain.signing.ROTATION_GRACE)."""
    event = router.current_event
    only_known(json_body(event), event, frozenset())  # it takes no fields: a typo is a 400
    graph = wiring.graph()
    rotated = graph.adapters.keys.rotate(new_signing_key(), now=graph.clock())
    logger.info("signing keys rotated", extra={"previous_until": str(rotated.previous_until)})
    return json_response(200, {"current": rotated.current, "next": rotated.next})
