"""Find work that should have run and did not, and re-arm it.

Missed work looks the same whatever caused it: a timer lost between the record and its arming,
a dispatch that crashed while holding a lease, an EventBridge schedule that never fired. Each
leaves a live message whose wake time has passed. Re-arming is safe to repeat and safe beside a
running dispatch: the conditional claim lets exactly one attempt through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from functions.clock import Clock
from functions.store.messages import MessageStore
from functions.timers.arming import Timers
from functions.timers.payload import TimerPayload

# Longer than SQS's worst delivery latency for a timer on its way, so recovery does not chase
# timers that are merely in flight.
GRACE = timedelta(seconds=60)
PER_SHARD_LIMIT = 500
_KINDS = {"MSG": "message", "SCHED": "schedule"}


@dataclass(frozen=True)
class RecoveryReport:
    recovered: int
    message_ids: tuple[str, ...]


@dataclass
class Recovery:
    store: MessageStore
    timers: Timers
    clock: Clock
    grace: timedelta = GRACE

    def run(self) -> RecoveryReport:
        """Re-arm every overdue message for immediate dispatch."""
        now = self.clock()
        overdue = self.store.overdue(before=now - self.grace, per_shard_limit=PER_SHARD_LIMIT)
        for key, wake_at in overdue:
            prefix, _, target_id = key.partition("#")
            # The wake time is the exact due time the target waits for (a schedule's claim
            # compares it), so the timer carries it unchanged.
            self.timers.arm(TimerPayload(target_id, wake_at, kind=_KINDS[prefix]), now=now)
        return RecoveryReport(len(overdue), tuple(k.partition("#")[2] for k, _ in overdue))
