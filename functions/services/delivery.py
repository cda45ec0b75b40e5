"""Deliver a message when its timer fires: claim with a lease, send signed, record, re-arm."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from functions.domain import timeouts
from functions.domain.callbacks import callback_message, callbacks_due, trace_headers
from functions.domain.messages import TERMINAL, Message, MessageState
from functions.domain.outcomes import AttemptResult, decide
from functions.domain.queues import member_of
from functions.domain.timers import EARLY_TOLERANCE, TimerPayload
from functions.observability import logger
from functions.ports import ClaimRejectedError, ConditionFailedError, MessageStore, TimerPort
from functions.services.sender import attempt

if TYPE_CHECKING:
    from collections.abc import Callable

    from functions.domain.clock import Clock
    from functions.domain.signing import Signer
    from functions.services.queues import QueueService
    from functions.services.transport import Transport


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    REARMED = "rearmed"
    SKIPPED = "skipped"
    QUEUED = "queued"  # its queue had no slot for it; the queue wakes it when one frees


@dataclass
class Dispatcher:
    store: MessageStore
    timers: TimerPort
    signer: Callable[[], Signer]
    http: Transport
    clock: Clock
    allow_private: bool
    allowed_hosts: tuple[str, ...] = ()
    sleep: Callable[[float], None] = field(default=time.sleep)
    lease: timedelta = timedelta(seconds=timeouts.LEASE_SECONDS)
    queues: QueueService | None = None

    def handle(self, payload: TimerPayload) -> Outcome:
        """Act on one fired timer. Safe to call any number of times for the same payload."""
        ahead = (payload.due_at - self.clock()).total_seconds()
        if 0 < ahead <= EARLY_TOLERANCE.total_seconds():
            # SQS delays are whole seconds, rounded down: wait out the rest, so a wake-up at
            # a rate period's start does not arrive just before it.
            self.sleep(ahead)
        now = self.clock()
        lease_token = secrets.token_hex(8)
        try:
            message = self.store.claim(
                payload.target_id,
                now=now,
                lease=self.lease,
                lease_token=lease_token,
                early=EARLY_TOLERANCE,
            )
        except ClaimRejectedError as rejected:
            state = rejected.message.state.value if rejected.message else "missing"
            logger.info("timer skipped", extra={"message_id": payload.target_id, "state": state})
            return Outcome.SKIPPED
        if not self._admitted(message, lease_token):
            return Outcome.QUEUED
        needed = timedelta(seconds=timeouts.lease_seconds(message.timeout_seconds))
        if needed > timedelta(seconds=timeouts.LEASE_SECONDS):  # a long Upstash-Timeout
            self.store.extend_lease(message.message_id, lease_token=lease_token, until=now + needed)
        wait = (message.due_at - self.clock()).total_seconds()
        if wait > 0:
            self.sleep(wait)
        return self._attempt(message, lease_token)

    def _admitted(self, message: Message, lease_token: str) -> bool:
        """A queued message goes only when its queue admits it; otherwise the claim is handed
        back and the message waits in line (its queue wakes it)."""
        queues = self.queues
        if queues is None or member_of(message) is None or queues.admit(message):
            return True
        waiting = MessageState.RETRY if message.retried else MessageState.CREATED
        self.store.park(message.message_id, lease_token=lease_token, state=waiting)
        queues.parked(message)
        return False

    def _attempt(self, message: Message, lease_token: str) -> Outcome:
        started = self.clock()
        sent = attempt(
            self.http,
            method=message.method,
            url=message.url,
            headers=self._headers(message),
            body=message.body,
            timeout_seconds=message.timeout_seconds,
            allow_private=self.allow_private,
            allowed_hosts=self.allowed_hosts,
        )
        result = sent.result
        finished = self.clock()
        decision = decide(message, result, now=finished, refused=sent.refused)
        callbacks = self._callbacks(message, result, failed=decision.state is MessageState.FAILED)
        try:
            self.store.record(
                message.message_id,
                lease_token=lease_token,
                state=decision.state,
                event=decision.event,
                retried=decision.retried,
                next_due=decision.next_due,
                follow_ups=callbacks,
            )
        except ConditionFailedError:
            # Cancelled while on the wire (or the lease ran out): a queued message's cancel
            # left its slot to this attempt, which frees it now that it is over.
            current = self.store.find(message.message_id)
            if self.queues is not None and current is not None and current.state in TERMINAL:
                self.queues.finished(current)
            raise
        logger.info(
            "attempt recorded",
            extra={
                "message_id": message.message_id,
                "state": decision.state.value,
                "status": result.status,
                "lateness_ms": int((started - message.due_at).total_seconds() * 1000),
                **(
                    {"request_id": message.options["requestId"]}
                    if "requestId" in message.options
                    else {}
                ),
            },
        )
        if decision.next_due is not None:
            self.timers.arm(TimerPayload(message.message_id, decision.next_due), now=finished)
        for callback in callbacks:
            self.timers.arm(TimerPayload(callback.message_id, callback.due_at), now=finished)
        if self.queues is not None and decision.state in TERMINAL:
            self.queues.finished(message)
        return {
            MessageState.DELIVERED: Outcome.DELIVERED,
            MessageState.RETRY: Outcome.RETRY,
        }.get(decision.state, Outcome.FAILED)

    def _callbacks(
        self, message: Message, result: AttemptResult, *, failed: bool
    ) -> tuple[Message, ...]:
        """The callback messages this attempt owes (ids derived from the attempt)."""
        return tuple(
            callback_message(
                message,
                result,
                request,
                now=self.clock(),
                dlq_id=message.message_id if failed else None,
                default_retries=message.max_retries,
                default_timeout=message.timeout_seconds,
            )
            for request in callbacks_due(message, failed=failed)
        )

    def _headers(self, message: Message) -> dict[str, str]:
        signed = self.signer().headers(
            message_id=message.message_id, url=message.url, body=message.body, now=self.clock()
        )
        extra = {"Upstash-Message-Id": message.message_id, "Upstash-Retried": str(message.retried)}
        if message.schedule_id:
            extra["Upstash-Schedule-Id"] = message.schedule_id
        return {**trace_headers(message), **message.headers, **signed, **extra}
