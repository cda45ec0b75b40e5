"""`step`: SQS-triggered from the step queue; each record runs one flow step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions import wiring
from functions.handlers.timer_batch import process
from functions.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from functions.domain.timers import TimerPayload


def _handle(payload: TimerPayload) -> str:
    return wiring.graph().wake(payload)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, context, handle=_handle, metric_prefix="step")
