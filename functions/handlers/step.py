"""`step`: SQS-triggered from the step queue; each record runs one flow step."""

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
from functions.errors import ValidationError
from functions.observability import logger, metrics
from functions.timers.payload import TimerPayload


def handle_record(body: str) -> str:
    """One fired step timer; a malformed payload is logged and dropped."""
    try:
        payload = TimerPayload.from_json(body)
    except ValidationError:
        logger.exception("dropping malformed step timer")
        return "malformed"
    result = runtime.flow_runner().handle_timer(payload)
    return result.reason or ("sent" if result.ok else "failed")


async def _record_handler(record: SQSRecord) -> str:
    outcome = await asyncio.to_thread(handle_record, record.body)
    metrics.add_metric(name=f"step_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = AsyncBatchProcessor(event_type=EventType.SQS)
    response = async_process_partial_response(
        event=event, record_handler=_record_handler, processor=processor, context=context
    )
    return dict(response)
