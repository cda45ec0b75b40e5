"""`dispatch`: SQS-triggered, each record a fired timer of a message or schedule; or invoked
asynchronously with one timer (due now, or a far-off one by its EventBridge schedule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions import wiring
from functions.handlers.timer_batch import process, process_one
from functions.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from functions.domain.timers import TimerPayload


def _handle(payload: TimerPayload) -> str:
    return wiring.graph().wake(payload)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:
        return process_one(event, handle=_handle, metric_prefix="timer")
    return process(event, context, handle=_handle, metric_prefix="timer")
