"""`/v2/queues` (create or update, list, get, delete, pause, resume) and
`/v2/enqueue/{queue}/{destination}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions import wiring
from functions.api.common import caller_ip, json_body, json_response, only_known, raw_body
from functions.api.messages import answer
from functions.domain.errors import ValidationError
from functions.domain.publish import destination_from_path
from functions.domain.queues import UPSERT_FIELDS, check_queue_name
from functions.domain.topics import is_topic_name

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
ENQUEUE_PREFIX = "/v2/enqueue/"


@router.post("/v2/enqueue/.+")
def enqueue() -> Response[Any]:
    """Publish into a queue: delivered in enqueue order, at most `parallelism` at a time. An
    unknown queue is created with parallelism 1, as on QStash."""
    event = router.current_event
    queue, _, tail = event.raw_path[len(ENQUEUE_PREFIX) :].partition("/")
    check_queue_name(queue)
    if not tail:
        raise ValidationError("the path is /v2/enqueue/{queue}/{destination}")
    service = wiring.graph().message_service
    headers, body = dict(event.headers), raw_body(event)
    if is_topic_name(tail):
        fanned = service.publish_to_group(
            group=tail, headers=headers, body=body, queue=queue, caller_ip=caller_ip(event)
        )
        return json_response(201, [answer(p) for p in fanned])
    destination = destination_from_path(tail, event.raw_query_string or "")
    published = service.publish(
        destination=destination,
        headers=headers,
        body=body,
        queue=queue,
        caller_ip=caller_ip(event),
    )
    return json_response(202 if published.deduplicated else 201, answer(published))


@router.post("/v2/queues")
def upsert_queue() -> Response[Any]:
    event = router.current_event
    body = json_body(event)
    only_known(body, event, UPSERT_FIELDS)
    wiring.graph().queue_service.upsert(body)
    return json_response(200, {})


@router.get("/v2/queues")
def list_queues() -> Response[Any]:
    only_known(None, router.current_event, frozenset())
    return json_response(200, wiring.graph().queue_service.all())


@router.get("/v2/queues/<name>")
def get_queue(name: str) -> Response[Any]:
    only_known(None, router.current_event, frozenset())
    return json_response(200, wiring.graph().queue_service.get(name))


@router.delete("/v2/queues/<name>")
def delete_queue(name: str) -> Response[Any]:
    wiring.graph().queue_service.delete(name)
    return json_response(200, {})


@router.post("/v2/queues/<name>/pause")
def pause_queue(name: str) -> Response[Any]:
    wiring.graph().queue_service.pause(name)
    return json_response(200, {})


@router.post("/v2/queues/<name>/resume")
def resume_queue(name: str) -> Response[Any]:
    wiring.graph().queue_service.resume(name)
    return json_response(200, {})
