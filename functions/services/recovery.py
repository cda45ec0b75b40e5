"""Find work that should have run and did not, and re-arm it.

Missed work looks the same whatever caused it: a timer lost between the record and its arming,
a delivery that crashed while holding a lease, an EventBridge schedule that never fired. Each
leaves live work whose wake time has passed. Re-arming is safe to repeat and safe beside a
running delivery: the conditional claim lets exactly one attempt through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from functions.domain.clock import Clock
    from functions.domain.timers import TimerPayload
    from functions.ports import OverdueScan

# Longer than SQS's worst delivery latency for a timer on its way, so recovery does not chase
# timers that are merely in flight.
GRACE = timedelta(seconds=60)
LIMIT = 500


@dataclass(frozen=True)
class RecoveryReport:
    recovered: int
    target_ids: tuple[str, ...]
    queue_members: int = 0  # queued messages whose slot was freed or whose wake-up was lost


@dataclass
class Recovery:
    scan: OverdueScan
    arm: Callable[[TimerPayload, datetime], None]
    clock: Clock
    grace: timedelta = GRACE
    # Queues keep their own waiting line, outside the wake index (QueueService.reconcile).
    reconcile_queues: Callable[[timedelta], int] | None = None

    def run(self) -> RecoveryReport:
        """Re-arm every overdue timer for immediate delivery, then settle the queues."""
        now = self.clock()
        overdue = self.scan.overdue(before=now - self.grace, limit=LIMIT)
        for timer in overdue:
            self.arm(timer, now)
        members = self.reconcile_queues(self.grace) if self.reconcile_queues else 0
        return RecoveryReport(len(overdue), tuple(t.target_id for t in overdue), members)
