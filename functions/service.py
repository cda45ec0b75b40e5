"""What the HTTP API does, without HTTP: publish, read, cancel. Handlers call these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.clock import Clock
from functions.messages import Message
from functions.publish import PublishLimits, parse_publish
from functions.retry import validate_retry_delay
from functions.store.messages import MessageStore
from functions.timers.arming import Timers
from functions.timers.payload import TimerPayload
from functions.views import message_view


@dataclass
class MessageService:
    store: MessageStore
    timers: Timers
    clock: Clock
    limits: PublishLimits

    def publish(self, *, destination: str, headers: Mapping[str, str], body: bytes) -> Message:
        """Validate, write the record, then arm its timer (in that order, always)."""
        now = self.clock()
        message = parse_publish(
            destination=destination, headers=headers, body=body, now=now, limits=self.limits
        )
        if message.retry_delay is not None:
            validate_retry_delay(message.retry_delay)
        self.store.create(message)
        self.timers.arm(TimerPayload(message.message_id, message.due_at), now=now)
        return message

    def get(self, message_id: str) -> dict[str, Any]:
        return message_view(self.store.get(message_id))

    def cancel(self, message_id: str) -> bool:
        """Cancel; an armed EventBridge schedule is deleted, a queued SQS timer will find it
        cancelled and send nothing."""
        message = self.store.get(message_id)
        cancelled = self.store.cancel(message_id, now=self.clock())
        if cancelled:
            self.timers.disarm(message_id, message.due_at)
        return cancelled
