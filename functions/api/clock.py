"""`/v2/dev/clock` (a duetime extension): read the server's clock, and move it when the dev
server runs on a manual one (`duetime dev --clock manual`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import json_body, json_response
from functions.domain.clock import parse_iso, to_ms
from functions.domain.durations import parse_duration
from functions.domain.errors import ConflictError, ValidationError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

    from functions.ports import TimeTravel, Travelled

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

_MOVES = ("advance", "set")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@router.get("/v2/dev/clock")
def read_clock() -> Response[Any]:
    graph = wiring.graph()
    mode = "real" if graph.time_travel is None else "manual"
    return json_response(200, {"now": to_ms(graph.clock()), "mode": mode})


@router.post("/v2/dev/clock")
def move_clock() -> Response[Any]:
    body = json_body(router.current_event)
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object with `advance` or `set`")
    unknown = sorted(set(body) - set(_MOVES))
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(unknown)}: use `advance` or `set`")
    if len(body) != 1:
        raise ValidationError("give exactly one of `advance` (a duration) or `set` (a time)")
    travel = _manual()
    moved = _advance(travel, body["advance"]) if "advance" in body else _set(travel, body["set"])
    return json_response(200, {"now": to_ms(moved.now), "fired": moved.fired})


def _manual() -> TimeTravel:
    travel = wiring.graph().time_travel
    if travel is None:
        raise ConflictError(
            "this server's clock is real; time travel needs `duetime dev --clock manual`"
        )
    return travel


def _advance(travel: TimeTravel, value: object) -> Travelled:
    if not isinstance(value, str):
        raise ValidationError("advance must be a duration string such as 90s, 1h or 31d")
    return travel.advance(parse_duration(value, field="advance"))


def _set(travel: TimeTravel, value: object) -> Travelled:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError("set must be Unix milliseconds or an ISO 8601 time with a zone")
    if isinstance(value, str):
        return travel.set(parse_iso(value, field="set"))
    try:
        return travel.set(_EPOCH + timedelta(milliseconds=value))
    except OverflowError as exc:
        raise ValidationError(f"set is out of range: {value}") from exc
