"""`/v2/topics`: URL groups (add and remove endpoints, list, get, delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import json_body, json_response, only_known

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
ENDPOINTS_FIELDS = frozenset({"endpoints"})


@router.post("/v2/topics/<name>/endpoints")
def upsert_endpoints(name: str) -> Response[Any]:
    event = router.current_event
    body = json_body(event)
    only_known(body, event, ENDPOINTS_FIELDS)
    wiring.graph().topic_service.upsert_endpoints(name, body)
    return json_response(200, {})


@router.delete("/v2/topics/<name>/endpoints")
def remove_endpoints(name: str) -> Response[Any]:
    event = router.current_event
    body = json_body(event)
    only_known(body, event, ENDPOINTS_FIELDS)
    wiring.graph().topic_service.remove_endpoints(name, body)
    return json_response(200, {})


@router.get("/v2/topics")
def list_topics() -> Response[Any]:
    only_known(None, router.current_event, frozenset())
    return json_response(200, wiring.graph().topic_service.all())


@router.get("/v2/topics/<name>")
def get_topic(name: str) -> Response[Any]:
    return json_response(200, wiring.graph().topic_service.get(name))


@router.delete("/v2/topics/<name>")
def delete_topic(name: str) -> Response[Any]:
    wiring.graph().topic_service.delete(name)
    return json_response(200, {})
