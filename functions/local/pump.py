"""The dev server's clock: what Lambda's SQS event source and EventBridge Scheduler do on AWS.

moto honours SQS `DelaySeconds` in real time but never fires EventBridge schedules, so a
`SchedulerClock` thread fires due one-time schedules into their target queue, and `QueuePump`
threads long-poll the delivery queue and invoke `dispatch` with SQS events.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.adapters.aws.timers import InvokeUnavailableError
from functions.domain.clock import utc_now
from functions.local.lambda_context import LocalContext
from functions.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
EVENTBRIDGE_JITTER_SECONDS = 59.0


def sqs_event(messages: list[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping would deliver for these messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class QueuePump:
    """Polls a queue and invokes a handler per batch, like Lambda's SQS event source mapping.

    One thread polls; up to `workers` invocations run at once (Lambda's concurrency). moto's
    long poll returns at once while delayed messages exist, so an empty poll backs off briefly
    instead of spinning and starving the rest of the process.
    """

    def __init__(
        self,
        *,
        sqs: SQSClient,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        workers: int,
        function_name: str,
        idle_seconds: float = 0.02,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._handler = handler
        self._function_name = function_name
        self._idle = idle_seconds
        self._slots = threading.Semaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=function_name)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="queue-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._slots.acquire()
                messages = self._receive()
                if not messages:
                    self._slots.release()
                    self._stop.wait(self._idle)
                    continue
                future = self._pool.submit(self._invoke, messages)
                future.add_done_callback(lambda _: self._slots.release())
            except Exception:
                logger.exception("queue pump iteration failed")

    def _receive(self) -> list[MessageTypeDef]:
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        return list(received.get("Messages", []))

    def poll_once(self) -> int:
        """Receive one batch and invoke the handler in this thread; returns its size."""
        messages = self._receive()
        if messages:
            self._invoke(messages)
        return len(messages)

    def _invoke(self, messages: list[MessageTypeDef]) -> None:
        try:
            result = self._handler(
                sqs_event(messages, self._queue_arn),
                LocalContext(function_name=self._function_name),
            )
        except Exception:
            # A failed invocation leaves the whole batch for SQS to redeliver, as on Lambda.
            logger.exception("handler invocation failed")
            return
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )


@dataclass(frozen=True)
class _Armed:
    fire_at: datetime
    # Where the schedule sends its input: a queue (by URL), or a function (by `invoke`).
    queue_url: str | None
    body: str


def parse_at_expression(expression: str) -> datetime:
    """`at(2026-11-23T10:00:00)` (UTC, as duetime writes them) to an aware datetime."""
    inner = expression.strip()[3:-1]
    return datetime.fromisoformat(inner).replace(tzinfo=UTC)


class SchedulerClock:
    """Fires one-time EventBridge schedules in a group when due (optionally 0-59 s late): a
    queue target gets its input as a message, a Lambda target (dispatch) is invoked with it
    asynchronously by `invoke`, as EventBridge Scheduler invokes a function."""

    def __init__(
        self,
        *,
        scheduler: EventBridgeSchedulerClient,
        sqs: SQSClient,
        group: str,
        jitter: bool,
        tick_seconds: float = 0.2,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        invoke: Callable[[str], None] | None = None,
    ) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self._invoke = invoke
        self._group = group
        self._jitter = jitter
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - emulated jitter, not security
        self._armed: dict[str, _Armed] = {}
        self._loop = Periodic(action=self.tick, interval_seconds=tick_seconds, name="scheduler")

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def tick(self) -> int:
        """Fire every due schedule once; returns how many fired."""
        self._refresh()
        now = self._clock()
        fired = 0
        for name, armed in list(self._armed.items()):
            if armed.fire_at > now:
                continue
            if armed.queue_url is not None:
                self._sqs.send_message(QueueUrl=armed.queue_url, MessageBody=armed.body)
            elif self._invoke is not None:
                try:
                    self._invoke(armed.body)
                except InvokeUnavailableError:
                    continue  # cooling down after a failure already logged: a later tick
                except Exception:  # as EventBridge retries a failed invoke: at a later tick
                    logger.warning("schedule %s could not invoke; retrying", name, exc_info=True)
                    continue
            else:
                raise RuntimeError(f"schedule {name} targets a function and none is emulated")
            # ActionAfterCompletion=DELETE: a fired one-time schedule removes itself.
            self._scheduler.delete_schedule(Name=name, GroupName=self._group)
            del self._armed[name]
            fired += 1
        return fired

    def _refresh(self) -> None:
        names: set[str] = set()
        for page in self._scheduler.get_paginator("list_schedules").paginate(GroupName=self._group):
            names.update(s["Name"] for s in page.get("Schedules", []))
        for gone in set(self._armed) - names:
            del self._armed[gone]  # deleted by a cancel before it fired
        for name in names - set(self._armed):
            detail = self._scheduler.get_schedule(Name=name, GroupName=self._group)
            expression = detail["ScheduleExpression"]
            if not expression.startswith("at("):
                continue
            jitter = self._rng.uniform(0, EVENTBRIDGE_JITTER_SECONDS) if self._jitter else 0.0
            target = detail["Target"]["Arn"]
            self._armed[name] = _Armed(
                fire_at=parse_at_expression(expression) + timedelta(seconds=jitter),
                queue_url=None
                if target.startswith("arn:aws:lambda:")
                else self._sqs.get_queue_url(QueueName=target.rsplit(":", 1)[-1])["QueueUrl"],
                body=detail["Target"].get("Input", ""),
            )


class Periodic:
    """Calls `action` every `interval_seconds` on a thread of its own, as an EventBridge
    `rate(...)` schedule invokes a function; a failing call is logged and the loop goes on."""

    def __init__(self, *, action: Callable[[], object], interval_seconds: float, name: str) -> None:
        self._action = action
        self._interval = interval_seconds
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._action()
            except Exception:
                logger.exception("periodic call failed", extra={"loop": self._name})


def invoke_every(handler: Handler, *, interval_seconds: float, function_name: str) -> Periodic:
    """A handler invoked on a rate, with an empty event (what recover receives)."""
    return Periodic(
        action=lambda: handler({}, LocalContext(function_name=function_name)),
        interval_seconds=interval_seconds,
        name=function_name,
    )
