"""Time travel for the embedded engine (`duetime dev --clock manual`).

The services read a manual clock that moves only when told. Moving it steps from one due time
to the next, in order: at each, the clock stands at that virtual time while everything due
fires and its receivers answer, so a 30-day delay or a week of crons takes as long as the
deliveries themselves. Signatures keep the wall clock: receivers check them against theirs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from functions.domain.clock import require_utc, utc_now
from functions.domain.errors import ValidationError
from functions.domain.timeouts import MAX_LEASE_SECONDS
from functions.ports import Travelled

if TYPE_CHECKING:
    from functions.adapters.sqlite.timers import LocalTimers

# Longest one instant may take: every attempt due then ends within its own timeout.
_SETTLE_SECONDS = float(MAX_LEASE_SECONDS)


class ManualClock:
    """A clock that stands still until set; it never goes backwards."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = require_utc(start or utc_now(), field="start")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def move_to(self, when: datetime) -> None:
        when = require_utc(when, field="time")
        with self._lock:
            if when < self._now:
                raise ValidationError(
                    f"the clock only moves forward: {when.isoformat()} is before "
                    f"{self._now.isoformat()}"
                )
            self._now = when


@dataclass
class TimeTravel:
    """Moves a manual clock over a timer heap. One move at a time; the API serves it."""

    clock: ManualClock
    timers: LocalTimers
    _moving: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return self.clock()

    def advance(self, by: timedelta) -> Travelled:
        if by < timedelta(0):
            raise ValidationError("advance must not be negative")
        with self._moving:
            return self._travel(self.clock() + by)

    def set(self, to: datetime) -> Travelled:
        with self._moving:
            return self._travel(require_utc(to, field="set"))

    def _travel(self, target: datetime) -> Travelled:
        if target < self.clock():
            self.clock.move_to(target)  # raises: the clock never goes back
        before = self.timers.fired()
        self._settle()
        while (due := self.timers.next_due()) is not None and due <= target:
            # A timer armed in the past (a resumed database) fires at the present.
            self.clock.move_to(max(due, self.clock()))
            self._settle()
        self.clock.move_to(target)
        self._settle()
        return Travelled(now=self.clock(), fired=self.timers.fired() - before)

    def _settle(self) -> None:
        self.timers.wake()
        if not self.timers.settle(timeout=_SETTLE_SECONDS):
            raise TimeoutError("deliveries due at this instant did not finish")
