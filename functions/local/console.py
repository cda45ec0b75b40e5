"""`duetime dev`'s console: one human line per log record and per HTTP request, no EMF."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, TextIO

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from functions.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

# Keys every record carries on Lambda (from inject_lambda_context, tracing): noise on a laptop.
_HIDDEN = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)
# Shown first, in this order; any other extra key follows in the order it was logged.
_FIRST = (
    "message_id",
    "flow_id",
    "step_id",
    "state",
    "status",
    "lateness_ms",
    "method",
    "path",
    "duration_ms",
)


class HumanFormatter(LambdaPowertoolsFormatter):
    """A Powertools formatter (so append_keys and inject_lambda_context keep working) that
    renders `12:00:00.123 INFO    attempt recorded message_id=msg_1 state=DELIVERED ...`."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S.%F", serialize_stacktrace=False)

    def serialize(self, log: LogRecord) -> str:
        fields: dict[str, Any] = dict(log)
        shown = [key for key in _FIRST if key in fields]
        shown += [key for key in fields if key not in _HIDDEN and key not in _FIRST]
        message = fields.get("message")
        parts = [
            f"{fields.get('timestamp', '')} {fields.get('level', ''):<7}",
            message if isinstance(message, str) else json.dumps(message, default=str),
            *(f"{key}={_value(fields[key])}" for key in shown),
        ]
        line = " ".join(parts)
        exception = fields.get("exception")
        return f"{line}\n{exception}" if exception else line


def _value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in '"=' for c in value):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def install(stream: TextIO = sys.stderr) -> None:
    """Switch the shared logger to human lines on `stream` and silence Powertools metrics."""
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise TypeError(f"the duetime logger writes to {handler!r}, not a stream")
    handler.setStream(stream)
    handler.setFormatter(HumanFormatter())
    # Powertools' switch for its EMF metric blobs (read at every flush); an explicit choice wins.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    # @metrics.log_metrics warns (a plain UserWarning) on every invocation that added none.
    warnings.filterwarnings(
        "ignore", message="No application metrics to publish", category=UserWarning
    )


def request_line(method: str, path: str, status: int, duration_ms: float) -> str:
    return f"{method} {path} {status} {duration_ms:.1f} ms"


def log_request(method: str, path: str, status: int, duration_ms: float) -> None:
    """gateway.serve's log_request: one line per answered request, through the shared logger."""
    logger.info(request_line(method, path, status, duration_ms))
