"""Load the canonical events in events/ and fill in their placeholders."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


@cache
def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def http_event(
    method: str,
    path: str,
    *,
    token: str | None,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event based on events/publish_http_api.json."""
    event = copy.deepcopy(_load("publish_http_api.json"))
    base_headers = {"host": event["headers"]["host"], "user-agent": "tests"}
    if token is not None:
        base_headers["authorization"] = f"Bearer {token}"
    event["headers"] = {**base_headers, **{k.lower(): v for k, v in (headers or {}).items()}}
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event.pop("queryStringParameters", None)
    event.pop("pathParameters", None)
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    event.pop("body", None)
    event["isBase64Encoded"] = False
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        try:
            event["body"] = raw.decode()
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
    return event


def publish_event(token: str) -> dict[str, Any]:
    """The canonical publish event, authorised with `token`."""
    event = copy.deepcopy(_load("publish_http_api.json"))
    event["headers"]["authorization"] = f"Bearer {token}"
    return event


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event with one record per body, based on events/sqs_timer.json."""
    template = _load("sqs_timer.json")["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"{template['messageId'][:-4]}{n:04d}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def invoke_event(message_id: str, due_at_ms: int = 0) -> dict[str, Any]:
    """A direct asynchronous invocation of `dispatch`, based on events/dispatch_invoke.json."""
    event = copy.deepcopy(_load("dispatch_invoke.json"))
    event["id"] = message_id
    event["dueAt"] = due_at_ms
    return event


def invoke_failure_record(message_id: str, due_at_ms: int = 0) -> str:
    """The on-failure destination record of such an invocation, as an SQS body."""
    record = copy.deepcopy(_load("invoke_failure_record.json"))
    record["requestPayload"] = invoke_event(message_id, due_at_ms)
    return json.dumps(record)
