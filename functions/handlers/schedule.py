"""`schedule`: the QStash-compatible HTTP API (API Gateway HTTP API, payload v2)."""

from __future__ import annotations

import base64
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import keys, runtime
from functions.auth import authenticate, bearer_token
from functions.config import settings
from functions.errors import DuetimeError, MethodNotAllowedError, NotFoundError
from functions.observability import logger
from functions.publish import destination_from_path

app = APIGatewayHttpResolver()

PUBLISH_PREFIX = "/v2/publish/"
# Every route's path, so an unmatched method on a known path is a 405, not a 404.
_KNOWN_PATHS = [
    re.compile(p) for p in (r"^/v2/publish/.+$", r"^/v2/messages/[^/]+$", r"^/v2/keys$")
]


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _authorize(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    event = resolver.current_event
    token = bearer_token(
        event.headers.get("authorization"),
        (event.query_string_parameters or {}).get("qstash_token"),
    )
    authenticate(token, keys.token_hashes(settings()))
    return next_middleware(resolver)


app.use(middlewares=[_authorize])


@app.exception_handler(DuetimeError)  # type: ignore[untyped-decorator]
def _domain_error(error: DuetimeError) -> Response[Any]:
    if error.status_code >= 500:
        logger.exception("request failed")
    return _json(error.status_code, {"error": str(error)})


@app.not_found
def _no_route(_: Exception) -> Response[Any]:
    path = app.current_event.path
    if any(p.match(path) for p in _KNOWN_PATHS):
        error: DuetimeError = MethodNotAllowedError(
            f"method {app.current_event.http_method} is not allowed on {path}"
        )
    else:
        error = NotFoundError(f"no route for {app.current_event.http_method} {path}")
    return _json(error.status_code, {"error": str(error)})


@app.post("/v2/publish/.+")
def publish() -> Response[Any]:
    event = app.current_event
    raw_path: str = event.raw_event.get("rawPath", event.path)
    destination = destination_from_path(
        raw_path[len(PUBLISH_PREFIX) :], event.raw_event.get("rawQueryString", "")
    )
    message = runtime.message_service().publish(
        destination=destination,
        headers=dict(event.headers),
        body=_raw_body(event.body, event.is_base64_encoded),
    )
    return _json(201, {"messageId": message.message_id})


def _raw_body(body: str | None, is_base64: bool | None) -> bytes:
    """The request body as bytes; API Gateway base64-encodes bodies it does not treat as text."""
    if not body:
        return b""
    return base64.b64decode(body) if is_base64 else body.encode()


@app.get("/v2/messages/<message_id>")
def get_message(message_id: str) -> Response[Any]:
    return _json(200, runtime.message_service().get(message_id))


@app.delete("/v2/messages/<message_id>")
def cancel_message(message_id: str) -> Response[Any]:
    cancelled = runtime.message_service().cancel(message_id)
    return _json(200, {"cancelled": int(cancelled)})


@app.get("/v2/keys")
def signing_keys() -> Response[Any]:
    current = keys.signing_keys(settings())
    return _json(200, {"current": current.current, "next": current.next})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
