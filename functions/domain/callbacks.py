"""Callbacks: after an attempt (`Upstash-Callback`) or after the last one failed
(`Upstash-Failure-Callback`), QStash's callback body is published as a new signed message with
its own retry settings. Pure: builds the message; the dispatcher stores and arms it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from functions.domain.clock import to_ms
from functions.domain.durations import parse_duration
from functions.domain.messages import Message

if TYPE_CHECKING:
    from datetime import datetime

    from functions.domain.outcomes import AttemptResult


class CallbackKind(StrEnum):
    CALLBACK = "callback"
    FAILURE = "failureCallback"


@dataclass(frozen=True)
class CallbackRequest:
    kind: CallbackKind
    url: str
    settings: dict[str, Any]


def callbacks_due(message: Message, *, failed: bool) -> list[CallbackRequest]:
    """The callbacks an attempt triggers. A callback's own delivery triggers none (no loops)."""
    if message.options.get("callbackOf"):
        return []
    due: list[CallbackRequest] = []
    if message.callback:
        due.append(
            CallbackRequest(
                CallbackKind.CALLBACK, message.callback, dict(message.options.get("callback", {}))
            )
        )
    if failed and message.failure_callback:
        due.append(
            CallbackRequest(
                CallbackKind.FAILURE,
                message.failure_callback,
                dict(message.options.get("failureCallback", {})),
            )
        )
    return due


def callback_body(
    message: Message, result: AttemptResult, *, kind: CallbackKind, dlq_id: str | None
) -> dict[str, Any]:
    """QStash's callback body: the attempt's response and the source message."""
    body: dict[str, Any] = {
        "status": result.status if result.status is not None else 0,
        "header": {k: [v] for k, v in result.headers.items()},
        "body": base64.b64encode(result.body.encode()).decode(),
        "retried": message.retried,
        "maxRetries": message.max_retries,
        "sourceMessageId": message.message_id,
        "url": message.url,
        "method": message.method,
        "sourceHeader": {k: [v] for k, v in message.headers.items()},
        "sourceBody": base64.b64encode(message.body).decode(),
        "notBefore": to_ms(message.due_at),
        "createdAt": to_ms(message.created_at),
        "callType": kind.value,
    }
    if message.schedule_id:
        body["scheduleId"] = message.schedule_id
    if result.error and result.status is None:
        body["error"] = result.error
    if dlq_id:
        body["dlqId"] = dlq_id
    return body


TRACE_OPTIONS = ("requestId", "traceparent")


def trace_headers(message: Message) -> dict[str, str]:
    """`X-Request-Id` and `traceparent` as the publish carried them. A forwarded header of the
    same name (`Upstash-Forward-X-Request-Id`) is the caller's explicit choice and wins."""
    names = {"requestId": "X-Request-Id", "traceparent": "traceparent"}
    given = {name.lower() for name in message.headers}
    return {
        header: str(message.options[key])
        for key, header in names.items()
        if key in message.options and header.lower() not in given
    }


def callback_message(
    source: Message,
    result: AttemptResult,
    request: CallbackRequest,
    *,
    now: datetime,
    dlq_id: str | None,
    default_retries: int,
    default_timeout: int,
) -> Message:
    """The new message that delivers a callback; its id is derived from the source attempt so a
    repeated attempt record creates it once."""
    settings = request.settings
    delay = (
        parse_duration(str(settings["delay"]), field="callback delay")
        if "delay" in settings
        else None
    )
    suffix = "cb" if request.kind is CallbackKind.CALLBACK else "fcb"
    return Message(
        message_id=f"{source.message_id}-{suffix}{source.retried}",
        url=request.url,
        method=str(settings.get("method", "POST")).upper(),
        headers={"content-type": "application/json", **settings.get("headers", {})},
        body=json.dumps(
            callback_body(source, result, kind=request.kind, dlq_id=dlq_id), separators=(",", ":")
        ).encode(),
        due_at=now + delay if delay else now,
        created_at=now,
        max_retries=int(settings.get("retries", default_retries)),
        retry_delay=settings.get("retry-delay"),
        timeout_seconds=int(settings.get("timeout", default_timeout)),
        options={
            "callbackOf": source.message_id,
            "callType": request.kind.value,
            # The callback carries the request id of the message it reports on.
            **{k: v for k, v in source.options.items() if k in TRACE_OPTIONS},
        },
    )
