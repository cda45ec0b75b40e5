"""Find work that should have run and did not, and re-arm it.

Missed work looks the same whatever caused it: a timer lost between the record and its arming,
a dispatch that crashed while holding a lease, an EventBridge schedule that never fired. Each
leaves a live message whose wake time has passed. Re-arming is safe to repeat and safe beside a
running dispatch: the conditional claim lets exactly one attempt through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.clock import Clock
from functions.flows import step_target
from functions.store.messages import MessageStore
from functions.timers.arming import TimerKind
from functions.timers.payload import MESSAGE, SCHEDULE, STEP, TimerPayload

# Longer than SQS's worst delivery latency for a timer on its way, so recovery does not chase
# timers that are merely in flight.
GRACE = timedelta(seconds=60)
PER_SHARD_LIMIT = 500
_KINDS = {"MSG": MESSAGE, "SCHED": SCHEDULE}


@dataclass(frozen=True)
class RecoveryReport:
    recovered: int
    message_ids: tuple[str, ...]


def timer_for(pk: str, sk: str, wake_at: datetime) -> TimerPayload:
    """The timer that wakes an indexed item. The wake time is the exact due time the target
    waits for (a schedule's claim compares it), so the timer carries it unchanged."""
    prefix, _, item_id = pk.partition("#")
    if prefix == "FLOW":
        # Run 0: "the flow's current run"; the step handler resolves it.
        index = int(sk.removeprefix("STEP#"))
        return TimerPayload(step_target(item_id, 0, index), wake_at, kind=STEP)
    return TimerPayload(item_id, wake_at, kind=_KINDS[prefix])


@dataclass
class Recovery:
    store: MessageStore
    arm: Callable[..., TimerKind]
    clock: Clock
    grace: timedelta = GRACE

    def run(self) -> RecoveryReport:
        """Re-arm every overdue message for immediate dispatch."""
        now = self.clock()
        overdue = self.store.overdue(before=now - self.grace, per_shard_limit=PER_SHARD_LIMIT)
        for pk, sk, wake_at in overdue:
            self.arm(timer_for(pk, sk, wake_at), now=now)
        return RecoveryReport(len(overdue), tuple(pk.partition("#")[2] for pk, _, _ in overdue))
