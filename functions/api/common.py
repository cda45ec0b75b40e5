"""Request parsing shared by the routers: JSON responses, raw query values, JSON bodies."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response, content_types

from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2


def json_response(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def caller_ip(event: APIGatewayProxyEventV2) -> str | None:
    """The publisher's address as the front door saw it (QStash's `callerIP`)."""
    ip: str | None = event.request_context.http.source_ip
    return ip or None


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


def multi_filter(
    data: dict[str, Any] | None, event: APIGatewayProxyEventV2, name: str
) -> tuple[str, ...]:
    """A filter with one or more values (any may match): a string or an array of strings in
    the JSON body, or the query parameter repeated (`url=a&url=b`, as @upstash/qstash sends
    arrays). Values are not split on commas: a URL may hold one."""
    if data is not None and name in data:
        value = data[name]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise ValidationError(
                f"{name} must be a non-empty string or an array of them, got {value!r}"
            )
        return tuple(values)
    found = query(event).get(name) or []
    return tuple(v for v in found if v)


def multi_int_filter(
    data: dict[str, Any] | None, event: APIGatewayProxyEventV2, name: str
) -> tuple[int, ...]:
    if data is not None and name in data:
        value = data[name]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValidationError(f"{name} must be an integer or an array of them, got {value!r}")
        return tuple(values)
    found = query(event).get(name) or []
    try:
        return tuple(int(v) for v in found)
    except ValueError as exc:
        raise ValidationError(f"query parameter {name} must be integers, got {found!r}") from exc


def int_field(data: dict[str, Any] | None, event: APIGatewayProxyEventV2, name: str) -> int | None:
    """An integer from the JSON body's `name`, else from the query."""
    if data is not None and name in data:
        value = data[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(f"{name} must be an integer, got {value!r}")
        return value
    return query_int(event, name)


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
    if not raw_body(event).strip():
        return None
    data = json_value(event)
    if not isinstance(data, dict):  # a JSON null too: only no body at all means "none"
        raise ValidationError("body must be a JSON object")
    return data


def json_value(event: APIGatewayProxyEventV2) -> Any:
    """Any JSON body (None when there is none), its strings all valid Unicode."""
    body = raw_body(event)
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise ValidationError("body is JSON nested too deeply") from exc
    except ValueError as exc:
        raise ValidationError(f"body is not valid JSON: {exc}") from exc
    try:
        # JSON may escape a lone surrogate ("\ud800"), which no store or request can carry.
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise ValidationError(
            "body holds a string that is not valid Unicode (a lone surrogate)"
        ) from exc
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


# Query parameters every route accepts (authentication), never a filter.
_AMBIENT_QUERY = frozenset({"qstash_token"})


def only_known(
    data: dict[str, Any] | None, event: APIGatewayProxyEventV2, known: frozenset[str]
) -> None:
    """Refuse a body field or query parameter the route does not know: a typo in a filter
    must never widen what a bulk operation selects."""
    unknown_body = sorted(set(data or {}) - known)
    unknown_query = sorted(set(query(event)) - known - _AMBIENT_QUERY)
    if unknown_body:
        raise ValidationError(
            f"unknown field(s) in the body: {', '.join(unknown_body)}; "
            f"known: {', '.join(sorted(known))}"
        )
    if unknown_query:
        raise ValidationError(
            f"unknown query parameter(s): {', '.join(unknown_query)}; "
            f"known: {', '.join(sorted(known))}"
        )


def page_response(key: str, rows: list[dict[str, Any]], cursor: str | None) -> Response[Any]:
    """A listing's answer: `{key: rows}`, with `cursor` only while there is a next page."""
    body: dict[str, Any] = {key: rows}
    if cursor:
        body["cursor"] = cursor
    return json_response(200, body)
