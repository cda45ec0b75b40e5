"""`dispatch`: SQS-triggered; each record is a fired timer. Failed records are retried by SQS."""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import runtime
from functions.dispatcher import Outcome
from functions.errors import ValidationError
from functions.observability import logger, metrics
from functions.timers.payload import TimerPayload


def handle_record(body: str) -> Outcome:
    """One fired timer. A malformed payload is logged and dropped: retrying cannot fix it."""
    try:
        payload = TimerPayload.from_json(body)
    except ValidationError:
        logger.exception("dropping malformed timer")
        return Outcome.SKIPPED
    return runtime.handle_timer(payload)


async def _record_handler(record: SQSRecord) -> str:
    # Deliveries of one batch run side by side, so the tenth is not late behind the first nine.
    outcome = await asyncio.to_thread(handle_record, record.body)
    metrics.add_metric(name=f"timer_{outcome.value}", unit=MetricUnit.Count, value=1)
    return outcome.value


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per invocation: it holds the batch's state, and the dev server runs
    # several invocations at once in one process.
    processor = AsyncBatchProcessor(event_type=EventType.SQS)
    response = async_process_partial_response(
        event=event, record_handler=_record_handler, processor=processor, context=context
    )
    return dict(response)
