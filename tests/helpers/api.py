"""Call the `schedule` handler in process with an HTTP API event; read back status and JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from functions.local.lambda_context import LocalContext
from tests.helpers.events import http_event


@dataclass(frozen=True)
class ApiResponse:
    status: int
    json: Any
    headers: dict[str, str]


def call(
    method: str,
    path: str,
    *,
    token: str | None,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
) -> ApiResponse:
    event = http_event(method, path, token=token, query=query, headers=headers, body=body)
    return invoke(event)


def invoke(event: dict[str, Any]) -> ApiResponse:
    from functions.handlers import schedule

    result = schedule.handler(event, LocalContext(function_name="duetime-schedule"))
    raw = result.get("body") or "null"
    return ApiResponse(int(result["statusCode"]), json.loads(raw), result.get("headers") or {})
