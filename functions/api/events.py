"""`/v2/events` and `/v2/logs` (the same log under both names and keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import (
    json_response,
    only_known,
    page_response,
    query_int,
    query_list,
    query_one,
)
from functions.domain.errors import ValidationError
from functions.domain.messages import EventState
from functions.services.eventlog import EventFilter
from functions.services.stats import parse_window

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
EVENT_FILTERS = frozenset(
    {"state", "messageIds", "messageId", "url", "scheduleId", "label", "queueName"}
    | {"fromDate", "toDate"}
    | {"cursor", "count"}
)


def _page(key: str) -> Response[Any]:
    event = router.current_event
    only_known(None, event, EVENT_FILTERS)
    state = query_one(event, "state")
    if state is not None and state not in EventState.__members__:
        raise ValidationError(
            f"state must be one of {', '.join(EventState.__members__)}, got {state!r}"
        )
    ids = (query_list(event, "messageIds") or []) + (query_list(event, "messageId") or [])
    selection = EventFilter(
        message_ids=tuple(ids),
        state=state,
        url=query_one(event, "url"),
        schedule_id=query_one(event, "scheduleId"),
        label=query_one(event, "label"),
        queue_name=query_one(event, "queueName"),
        from_ms=query_int(event, "fromDate"),
        to_ms=query_int(event, "toDate"),
    )
    rows, cursor = wiring.graph().event_log.page(
        cursor=query_one(event, "cursor"), count=query_int(event, "count"), selection=selection
    )
    return page_response(key, rows, cursor)


@router.get("/v2/stats")
def stats() -> Response[Any]:
    event = router.current_event
    only_known(None, event, frozenset({"window"}))
    window = parse_window(query_one(event, "window"))
    return json_response(200, wiring.graph().stats.summary(window))


@router.get("/v2/events")
def events() -> Response[Any]:
    return _page("events")


@router.get("/v2/logs")
def logs() -> Response[Any]:
    return _page("logs")
