"""`schedule`: the QStash-compatible HTTP API (API Gateway HTTP API, payload v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from functions import wiring
from functions.api import (
    clock,
    console,
    dlq,
    events,
    flowcontrol,
    flows,
    messages,
    queues,
    schedules,
    topics,
)
from functions.api.common import json_response
from functions.api.resolver import ConcurrentHttpResolver
from functions.domain.auth import authenticate, bearer_token
from functions.domain.errors import DuetimeError, MethodNotAllowedError, NotFoundError
from functions.domain.killswitches import SwitchedOffError
from functions.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.utilities.typing import LambdaContext

app = ConcurrentHttpResolver()
for module in (
    messages,
    dlq,
    events,
    schedules,
    flows,
    topics,
    queues,
    flowcontrol,
    clock,
    console,
):
    app.include_router(module.router)


def _authorize(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    event = resolver.current_event
    if console.is_public(event.path):
        return next_middleware(resolver)  # a static page: its data comes from /v2, with a token
    token = bearer_token(
        event.headers.get("authorization"),
        (event.query_string_parameters or {}).get("qstash_token"),
    )
    authenticate(token, wiring.graph().adapters.keys.token_hashes())
    return next_middleware(resolver)


app.use(middlewares=[_authorize])


@app.exception_handler(DuetimeError)  # type: ignore[untyped-decorator]
def _domain_error(error: DuetimeError) -> Response[Any]:
    if isinstance(error, SwitchedOffError):
        # An answer given by design (an operator turned the switch on), not a failure.
        logger.info("refused by a kill switch", extra={"error": str(error)})
    elif error.status_code >= 500:
        logger.exception("request failed")
    return json_response(error.status_code, {"error": str(error)})


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _unexpected(error: Exception) -> Response[Any]:
    """Anything unforeseen is logged with its stack and answered as JSON, never an HTML 502."""
    logger.exception("unexpected error", extra={"error_type": type(error).__name__})
    return json_response(500, {"error": "internal error; see the schedule function's logs"})


@app.not_found
def _no_route(_: Exception) -> Response[Any]:
    event = app.current_event
    # A known path with another method is a 405, not a 404.
    allowed = sorted(
        {r.method for r in app._static_routes + app._dynamic_routes if r.rule.match(event.path)}
    )
    if not allowed:
        missing = NotFoundError(f"no route for {event.http_method} {event.path}")
        return json_response(missing.status_code, {"error": str(missing)})
    refused = MethodNotAllowedError(f"method {event.http_method} is not allowed on {event.path}")
    return Response(
        status_code=refused.status_code,
        content_type=content_types.APPLICATION_JSON,
        body={"error": str(refused)},
        headers={"Allow": ", ".join(allowed)},
    )


app.prepare()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
