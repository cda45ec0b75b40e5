"""Request parsing shared by the routers: JSON responses, raw query values, JSON bodies."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from functions.domain.errors import ValidationError


def json_response(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The request body as bytes; API Gateway base64-encodes bodies it does not treat as text."""
    if not event.body:
        return b""
    return base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode()


def query(event: APIGatewayProxyEventV2) -> dict[str, list[str]]:
    """Every query value, repeated keys kept (API Gateway's parsed form joins them)."""
    return parse_qs(event.raw_query_string or "", keep_blank_values=False)


def query_one(event: APIGatewayProxyEventV2, name: str) -> str | None:
    values = query(event).get(name)
    return values[-1] if values else None


def query_list(event: APIGatewayProxyEventV2, name: str) -> list[str] | None:
    """`a=1&a=2` and `a=1,2` both give ["1", "2"]; absent gives None."""
    values = query(event).get(name)
    if values is None:
        return None
    return [part for value in values for part in value.split(",") if part]


def query_int(event: APIGatewayProxyEventV2, name: str) -> int | None:
    value = query_one(event, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError(f"query parameter {name} must be an integer, got {value!r}") from exc


def json_body(event: APIGatewayProxyEventV2) -> dict[str, Any] | None:
    """The JSON object body, or None when there is no body."""
    body = raw_body(event)
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValidationError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    return data


def id_list(
    data: dict[str, Any] | None, event: APIGatewayProxyEventV2, name: str
) -> list[str] | None:
    """A list of ids from the JSON body's `name` field, else from the query."""
    if data is not None and name in data:
        ids = data[name]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValidationError(f"{name} must be a JSON array of strings")
        return ids
    return query_list(event, name)
