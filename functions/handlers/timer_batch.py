"""What `dispatch` and `step` share: an SQS batch of fired timers, processed side by side,
with partial batch failures so SQS retries only the records that raised. `dispatch` is also
invoked directly with one timer (`process_one`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.domain.errors import ValidationError
from functions.domain.timers import TimerPayload
from functions.observability import logger, metrics

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


def process(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    handle: Callable[[TimerPayload], str],
    metric_prefix: str,
) -> dict[str, Any]:
    """Run `handle` on every timer of the batch; metric `<prefix>_<outcome>` per record."""
    # Imported with the first batch: asyncio, the thread pool and Powertools' batch utility
    # are a tenth of a cold init, and `dispatch` started by an asynchronous Invoke (every
    # message due at once) never receives a batch.
    import asyncio  # noqa: PLC0415
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415
        AsyncBatchProcessor,
        EventType,
        async_process_partial_response,
    )

    def one(body: str) -> str:
        try:
            payload = TimerPayload.from_json(_unwrapped(body))
        except ValidationError:
            # Retrying cannot fix a malformed payload: log it and drop it.
            logger.exception("dropping malformed timer")
            return "malformed"
        return handle(payload)

    async def record_handler(record: SQSRecord) -> str:
        # Records of one batch run side by side, so the tenth is not late behind the first nine,
        # on a pool as large as the batch: asyncio's default has min(32, cpus + 4) threads,
        # which would start a long attempt late, past what the Lambda timeout covers.
        outcome = await asyncio.get_running_loop().run_in_executor(pool, one, record.body)
        metrics.add_metric(name=f"{metric_prefix}_{outcome}", unit=MetricUnit.Count, value=1)
        return outcome

    # A processor per invocation: it holds the batch's state, and the dev server runs several
    # invocations at once in one process.
    processor = AsyncBatchProcessor(event_type=EventType.SQS)
    # Per invocation, as large as the batch (the dev server runs several invocations at once).
    size = max(1, len(event.get("Records", [])))
    with ThreadPoolExecutor(max_workers=size, thread_name_prefix="timer") as pool:
        response = async_process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return dict(response)


def process_one(
    event: dict[str, Any], *, handle: Callable[[TimerPayload], str], metric_prefix: str
) -> dict[str, Any]:
    """One timer invoked directly (the API's asynchronous Invoke, or its EventBridge schedule).
    An exception propagates, so Lambda retries the invocation and then sends it to the
    on-failure destination; a malformed timer is dropped, as in a batch. A destination record
    invoked by hand (replayed from the queue, say) is read as its timer, as the queue's
    consumer reads it."""
    try:
        payload = TimerPayload.from_json(_unwrapped(json.dumps(event)))
    except ValidationError:
        logger.exception("dropping malformed timer")
        outcome = "malformed"
    else:
        outcome = handle(payload)
    metrics.add_metric(name=f"{metric_prefix}_{outcome}", unit=MetricUnit.Count, value=1)
    return {"outcome": outcome}


def _unwrapped(body: str) -> str:
    """A direct invocation whose retries ran out reaches the queue as Lambda's destination
    record; the timer is its `requestPayload`."""
    if '"requestPayload"' not in body:
        return body
    try:
        record = json.loads(body)
    except ValueError:
        return body
    inner = record.get("requestPayload") if isinstance(record, dict) else None
    return json.dumps(inner) if isinstance(inner, dict) else body
