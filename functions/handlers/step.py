"""`step`: SQS-triggered from the step queue; each record runs one flow step."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import runtime
from functions.handlers.timer_batch import process
from functions.observability import logger, metrics
from functions.timers.payload import TimerPayload


def _handle(payload: TimerPayload) -> str:
    result = runtime.flow_runner().handle_timer(payload)
    return result.reason or ("sent" if result.ok else "failed")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, context, handle=_handle, metric_prefix="step")
