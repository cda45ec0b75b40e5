"""Make moto's SQS cheap enough for thousands of queued timers.

moto decides whether each message is visible or delayed by building a fresh UTC datetime per
message per check, and it checks every message in the queue on every send and receive. With a
few thousand delayed timers in the dev server's queue that made each SQS call tens of
milliseconds. The same test on the wall clock, read once per check as a float, keeps the
behaviour (moto honours DelaySeconds and visibility in real time) at a fraction of the cost.
"""

from __future__ import annotations

import time

from moto.sqs.models import Message


def _now_ms() -> float:
    return time.time() * 1000


def _visible(self: Message) -> bool:
    return bool(_now_ms() > self.visible_at)


def _delayed(self: Message) -> bool:
    return bool(_now_ms() < self.delayed_until)


def install() -> None:
    """Idempotent: replace the two per-message checks."""
    Message.visible = property(_visible)  # type: ignore[method-assign,assignment]
    Message.delayed = property(_delayed)  # type: ignore[method-assign,assignment]
