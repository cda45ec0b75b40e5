"""`/v2/flowControl[/{key}]` (read, pause, resume, pin, unpin, resetRate) and
`/v2/globalParallelism`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import json_response, only_known, query, query_one

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def _params(known: frozenset[str]) -> dict[str, str]:
    event = router.current_event
    only_known(None, event, known)
    return {name: value for name in query(event) if (value := query_one(event, name))}


@router.get("/v2/flowControl")
def list_flow_controls() -> Response[Any]:
    _params(frozenset())
    return json_response(200, wiring.graph().queue_service.flow_controls())


@router.get("/v2/flowControl/<key>")
def get_flow_control(key: str) -> Response[Any]:
    _params(frozenset())
    return json_response(200, wiring.graph().queue_service.flow_control(key))


@router.post("/v2/flowControl/<key>/pause")
def pause_flow_control(key: str) -> Response[Any]:
    wiring.graph().queue_service.set_flow_control_paused(key, paused=True)
    return json_response(200, {})


@router.post("/v2/flowControl/<key>/resume")
def resume_flow_control(key: str) -> Response[Any]:
    wiring.graph().queue_service.set_flow_control_paused(key, paused=False)
    return json_response(200, {})


@router.post("/v2/flowControl/<key>/pin")
def pin_flow_control(key: str) -> Response[Any]:
    params = _params(frozenset({"parallelism", "rate", "period"}))
    wiring.graph().queue_service.pin(key, params)
    return json_response(200, {})


@router.post("/v2/flowControl/<key>/unpin")
def unpin_flow_control(key: str) -> Response[Any]:
    params = _params(frozenset({"parallelism", "rate"}))
    wiring.graph().queue_service.unpin(key, params)
    return json_response(200, {})


@router.post("/v2/flowControl/<key>/resetRate")
def reset_flow_control_rate(key: str) -> Response[Any]:
    wiring.graph().queue_service.reset_rate(key)
    return json_response(200, {})


@router.get("/v2/globalParallelism")
def global_parallelism() -> Response[Any]:
    _params(frozenset())
    return json_response(200, wiring.graph().queue_service.global_parallelism())
