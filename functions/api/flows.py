"""`/v2/flows` (a duetime extension) and `/v2/kill-switches`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import json_body, json_response
from functions.domain.errors import ValidationError
from functions.domain.views import flow_log_view

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.post("/v2/flows/<flow_id>")
def start_flow(flow_id: str) -> Response[Any]:
    created, view = wiring.graph().flow_runner.start(flow_id, json_body(router.current_event))
    return json_response(201 if created else 200, view)


@router.get("/v2/flows/<flow_id>")
def get_flow(flow_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().flow_runner.view(flow_id))


@router.get("/v2/flows/<flow_id>/log")
def flow_log(flow_id: str) -> Response[Any]:
    return json_response(200, flow_log_view(wiring.graph().flow_runner.store.get(flow_id)))


@router.put("/v2/flows/<flow_id>/state")
def set_state(flow_id: str) -> Response[Any]:
    body = json_body(router.current_event) or {}
    token = body.get("stateToken")
    expect = body.get("expectStateToken")
    if not isinstance(token, str) or not token:
        raise ValidationError("body.stateToken must be a non-empty string")
    if expect is not None and not isinstance(expect, str):
        raise ValidationError("body.expectStateToken must be a string")
    return json_response(200, wiring.graph().flow_runner.set_state(flow_id, token, expect))


@router.post("/v2/flows/<flow_id>/steps/<step_id>/run")
def run_step(flow_id: str, step_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().flow_runner.replay(flow_id, step_id).to_json())


@router.delete("/v2/flows/<flow_id>")
def cancel_flow(flow_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().flow_runner.cancel(flow_id))


@router.get("/v2/kill-switches")
def list_switches() -> Response[Any]:
    return json_response(200, {"killSwitches": wiring.graph().kill_switches.view()})


@router.put("/v2/kill-switches/<scope>")
def switch_on(scope: str) -> Response[Any]:
    body = json_body(router.current_event) or {}
    reason = body.get("reason")
    wiring.graph().kill_switches.turn_on(unquote(scope), reason=str(reason) if reason else None)
    return json_response(200, {"killSwitches": wiring.graph().kill_switches.view()})


@router.delete("/v2/kill-switches/<scope>")
def switch_off(scope: str) -> Response[Any]:
    wiring.graph().kill_switches.turn_off(unquote(scope))
    return json_response(200, {"killSwitches": wiring.graph().kill_switches.view()})
