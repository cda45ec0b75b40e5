"""Arm and disarm timers. The record is always written before its timer is armed."""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from functions.domain.clock import to_ms
from functions.domain.timers import EARLY_TOLERANCE, STEP, TimerPayload
from functions.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient

SQS_MAX_DELAY_SECONDS = 900
_NAME_SAFE = re.compile(r"[0-9A-Za-z._-]+")
_NAME_MAX = 64
# Fire times of far-off timers are spread over this many minutes before the lead (see below).
SPREAD_MINUTES = 11


class TimerKind(StrEnum):
    SQS_DELAY = "sqs"
    EVENTBRIDGE = "eventbridge"
    INVOKE = "invoke"


# Starts the consumer at once with a timer's JSON: an asynchronous Lambda Invoke of `dispatch`
# on AWS (functions/adapters/aws/invoke.py). Raises when it could not be handed over.
Invoke = Callable[[str], None]


class InvokeUnavailableError(Exception):
    """An Invoke declined without trying (one failed moments ago): the queue serves."""


@dataclass(frozen=True)
class TimerConfig:
    queue_url: str
    queue_arn: str
    schedule_group: str
    scheduler_role_arn: str
    sqs_horizon: timedelta = timedelta(seconds=SQS_MAX_DELAY_SECONDS)
    # EventBridge fires somewhere in the minute it is set for; aim that minute early enough
    # that the SQS hop that follows always has time to land on the second.
    eventbridge_lead: timedelta = timedelta(minutes=2)
    # When set, EventBridge schedules invoke this function (`dispatch`) with the timer instead
    # of sending it to the queue for the event source to receive, delete and invoke the same
    # function with: one request where the queue's road takes three (issue 13).
    eventbridge_target_arn: str | None = None


def schedule_name(target_id: str, due_at: datetime) -> str:
    """Deterministic name: arming the same wake-up twice makes one timer.

    EventBridge allows only [0-9A-Za-z._-] and 64 characters. A target id that is already such
    a name (a message or schedule id) is kept readable; any other (a flow step's
    `<flow>#<run>#<index>`, a long flow id) is replaced by a digest of it, which stays unique.
    """
    stamp = f"-{to_ms(due_at)}"
    if _NAME_SAFE.fullmatch(target_id) and len(target_id) + len(stamp) <= _NAME_MAX:
        return target_id + stamp
    digest = hashlib.sha256(target_id.encode()).hexdigest()[:32]
    readable = re.sub(r"[^0-9A-Za-z._-]", "_", target_id)[: _NAME_MAX - len(stamp) - 33]
    return f"{readable}-{digest}{stamp}"


def sqs_delay_seconds(due_at: datetime, now: datetime) -> int:
    """Whole seconds to delay: rounded down, so the timer lands at most 1 s early, never late."""
    remaining = (due_at - now).total_seconds()
    return max(0, min(SQS_MAX_DELAY_SECONDS, math.floor(remaining)))


def eventbridge_fire_time(due_at: datetime, lead: timedelta, *, spread_key: str = "") -> datetime:
    """The minute an EventBridge schedule should fire for a wake-up at `due_at`.

    At least `lead` early, so EventBridge's up-to-a-minute lateness still leaves the SQS hop on
    time, and up to SPREAD_MINUTES earlier still, chosen by a hash of `spread_key`: many
    messages due in the same second then fire over several minutes instead of one, which keeps
    a burst within EventBridge's target-invocation quota. The SQS hop that follows is never
    longer than 15 minutes.
    """
    spread = timedelta(minutes=zlib.crc32(spread_key.encode()) % (SPREAD_MINUTES + 1))
    early = (due_at - lead - spread).astimezone(UTC)
    return early.replace(second=0, microsecond=0)


class Timers:
    """The AWS timer port: SQS delays within the horizon, one-time EventBridge schedules
    beyond it, into one queue (delivery or steps) or, when configured, the dispatch function
    itself. EventBridge's minute precision stays in here: a timer that wakes early is re-armed
    by `rearm_if_early` before any service sees it.
    """

    def __init__(
        self,
        *,
        sqs: SQSClient,
        scheduler: EventBridgeSchedulerClient,
        config: TimerConfig,
        invoke: Invoke | None = None,
    ) -> None:
        self._sqs = sqs
        self._scheduler = scheduler
        self._config = config
        self._invoke = invoke

    def arm(self, payload: TimerPayload, *, now: datetime) -> None:
        self.route(payload, now=now)

    def rearm_if_early(self, payload: TimerPayload, *, now: datetime) -> bool:
        """Re-arm a timer that woke more than EARLY_TOLERANCE before its due time (EventBridge's
        lead, or a chain past SQS's 15 minutes). True when it did: the caller drops this one."""
        if payload.due_at - now <= EARLY_TOLERANCE:
            return False
        self.route(payload, now=now, last_hop=True)
        return True

    def route(self, payload: TimerPayload, *, now: datetime, last_hop: bool = False) -> TimerKind:
        """Wake `payload` at its due time: SQS within the horizon, EventBridge beyond.

        `last_hop` is for a timer that woke early on purpose: whatever the configured horizon,
        the remainder goes to SQS when SQS can hold it. (Sending it back to EventBridge under
        the same name could meet the schedule that just fired, not yet deleted, and be taken
        for already armed.)
        """
        limit = timedelta(seconds=SQS_MAX_DELAY_SECONDS) if last_hop else self._config.sqs_horizon
        if payload.due_at - now <= limit:
            delay = sqs_delay_seconds(payload.due_at, now)
            if delay == 0 and self._invoke_now(payload):
                return TimerKind.INVOKE
            self._sqs.send_message(
                QueueUrl=self._config.queue_url,
                MessageBody=payload.to_json(),
                DelaySeconds=delay,
            )
            return TimerKind.SQS_DELAY
        fire_at = eventbridge_fire_time(
            payload.due_at, self._config.eventbridge_lead, spread_key=payload.target_id
        )
        try:
            self._scheduler.create_schedule(
                Name=schedule_name(payload.target_id, payload.due_at),
                GroupName=self._config.schedule_group,
                ScheduleExpression=f"at({fire_at:%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self._eventbridge_target(payload),
                    "RoleArn": self._config.scheduler_role_arn,
                    "Input": payload.to_json(),
                    "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise
            # Already armed for this exact wake-up (a retried publish or recovery): nothing to do.
        return TimerKind.EVENTBRIDGE

    def _eventbridge_target(self, payload: TimerPayload) -> str:
        """The function when one is configured, else the queue. A flow step always goes to its
        queue: only the step function may run it and arm the next."""
        if self._config.eventbridge_target_arn and payload.kind != STEP:
            return self._config.eventbridge_target_arn
        return self._config.queue_arn

    def _invoke_now(self, payload: TimerPayload) -> bool:
        """Start the consumer directly for a timer due now: one request where the queue takes
        three (SendMessage, the event source's ReceiveMessage and DeleteMessageBatch) to start
        the same invocation. False, and the queue serves, when no invoke is configured or it
        failed: a timer is never dropped for want of the shorter road."""
        if self._invoke is None:
            return False
        try:
            self._invoke(payload.to_json())
        except InvokeUnavailableError:
            return False
        except Exception:  # any failure to hand over falls back to the queue
            logger.warning("async invoke failed; the timer goes by the queue", exc_info=True)
            return False
        return True

    def disarm(self, target_id: str, due_at: datetime) -> None:
        self.delete_schedule(target_id, due_at)

    def delete_schedule(self, target_id: str, due_at: datetime) -> bool:
        """Delete the EventBridge schedule of a wake-up, if there is one. SQS delays cannot be
        recalled; the conditional claim makes them harmless when they fire."""
        try:
            self._scheduler.delete_schedule(
                Name=schedule_name(target_id, due_at), GroupName=self._config.schedule_group
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise
        return True
