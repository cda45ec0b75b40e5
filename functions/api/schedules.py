"""`/v2/schedules`: create (idempotent with Upstash-Schedule-Id), list, read, delete, pause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import caller_ip, json_response, raw_body
from functions.domain.publish import destination_from_path
from functions.domain.topics import is_topic_name

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PREFIX = "/v2/schedules/"


@router.post("/v2/schedules/.+")
def create_schedule() -> Response[Any]:
    event = router.current_event
    tail = event.raw_path[len(PREFIX) :]
    # `/v2/schedules/{id}/pause|resume` by POST (the SDKs use PATCH; both are accepted).
    if "/" not in tail.removesuffix("/pause").removesuffix("/resume") and tail.endswith(
        ("/pause", "/resume")
    ):
        schedule_id, _, action = tail.rpartition("/")
        return _pause_or_resume(schedule_id, action)
    to_group = is_topic_name(tail)
    destination = tail if to_group else destination_from_path(tail, event.raw_query_string or "")
    schedule_id = wiring.graph().schedule_service.upsert(
        schedule_id=event.headers.get("upstash-schedule-id"),
        destination=destination,
        headers=dict(event.headers),
        body=raw_body(event),
        to_group=to_group,
        caller_ip=caller_ip(event),
    )
    return json_response(201, {"scheduleId": schedule_id})


def _pause_or_resume(schedule_id: str, action: str) -> Response[Any]:
    service = wiring.graph().schedule_service
    if action == "pause":
        service.pause(schedule_id)
    else:
        service.resume(schedule_id)
    return json_response(200, {"scheduleId": schedule_id, "isPaused": action == "pause"})


@router.get("/v2/schedules")
def list_schedules() -> Response[Any]:
    return json_response(200, wiring.graph().schedule_service.all())


@router.get("/v2/schedules/<schedule_id>")
def get_schedule(schedule_id: str) -> Response[Any]:
    return json_response(200, wiring.graph().schedule_service.get(schedule_id))


@router.delete("/v2/schedules/<schedule_id>")
def delete_schedule(schedule_id: str) -> Response[Any]:
    wiring.graph().schedule_service.delete(schedule_id)
    return json_response(200, {"deleted": 1})


@router.patch("/v2/schedules/<schedule_id>/pause")
def pause_schedule(schedule_id: str) -> Response[Any]:
    return _pause_or_resume(schedule_id, "pause")


@router.patch("/v2/schedules/<schedule_id>/resume")
def resume_schedule(schedule_id: str) -> Response[Any]:
    return _pause_or_resume(schedule_id, "resume")
