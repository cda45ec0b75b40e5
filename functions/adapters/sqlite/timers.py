"""The embedded engine's timer port: a heap of due times in process.

One thread sleeps on a condition until the earliest due time (with no timeout when nothing is
armed, so an idle server uses no CPU and polls nothing), then hands what fell due to a pool of
workers, in due order. A target that raises is armed again after the lease, as SQS would make
a failed message visible again.

Under a manual clock (time travel) nothing falls due until the clock moves: `wake` tells the
loop it did, `next_due` and `settle` let the mover step from one due time to the next.

The workers are started with the loop, all of them, rather than by ThreadPoolExecutor's
lazy growth: a pool that adds a thread whenever a burst finds none idle keeps growing for
hours on a long-running server, and each new thread brings its own allocator arena.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import queue
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from functions.domain import timeouts
from functions.domain.clock import Clock, to_ms, utc_now
from functions.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from functions.domain.timers import TimerPayload

Key = tuple[str, int]
RETRY_AFTER_FAILURE = timedelta(seconds=timeouts.LEASE_SECONDS)


def _key(target_id: str, due_at: datetime) -> Key:
    return target_id, to_ms(due_at)


class LocalTimers:
    """Arming the same wake-up twice makes one timer, as EventBridge's deterministic names do."""

    def __init__(self, *, workers: int, clock: Clock = utc_now, name: str = "timers") -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, int, TimerPayload]] = []
        self._armed: set[Key] = set()
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._queue: queue.SimpleQueue[TimerPayload | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True)
            for n in range(workers)
        ]
        self._target: Callable[[TimerPayload], object] | None = None
        self._stopped = False
        self._in_flight = 0  # taken from the heap, target not yet returned
        self._fired = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # --- the port ---------------------------------------------------------------------------
    def arm(self, payload: TimerPayload, *, now: datetime) -> None:
        with self._wakeup:
            if self._is_armed(payload):
                return
            self._push(payload, payload.due_at)

    def disarm(self, target_id: str, due_at: datetime) -> None:
        """Forget it lazily: the loop drops a popped timer that is no longer armed."""
        with self._wakeup:
            self._armed.discard(_key(target_id, due_at))

    def retry_after_failure(self, payload: TimerPayload) -> None:
        """Its target raised: arm it again once the lease it may hold has run out."""
        # The payload stays as it was: its target compares the due time it carries.
        with self._wakeup:
            self._push(payload, self._clock() + RETRY_AFTER_FAILURE)

    # --- running ----------------------------------------------------------------------------
    def start(self, target: Callable[[TimerPayload], object]) -> None:
        self._target = target
        for worker in self._workers:
            worker.start()
        self._thread.start()

    def stop(self) -> None:
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        # What is queued but not started is dropped: its timer is in storage, and the
        # recover sweep or the next start arms it again.
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        for _ in self._workers:
            self._queue.put(None)

    def pending(self) -> int:
        with self._wakeup:
            return len(self._armed)

    # --- stepping a manual clock --------------------------------------------------------------
    def wake(self) -> None:
        """The clock moved (not by itself): look at the heap again."""
        with self._wakeup:
            self._wakeup.notify_all()

    def fired(self) -> int:
        """Timers handed to their target so far."""
        with self._wakeup:
            return self._fired

    def next_due(self) -> datetime | None:
        """When the earliest armed timer fires (a failed target's retry included)."""
        with self._wakeup:
            while self._heap:
                fire_at, _, payload = self._heap[0]
                if self._is_armed(payload):
                    return fire_at
                heapq.heappop(self._heap)  # disarmed: drop it now rather than when due
            return None

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is due at the clock's time and no target is running, so what
        a fired timer armed for the same instant has fired too. False on timeout."""
        with self._wakeup:
            return self._wakeup.wait_for(
                lambda: self._stopped or (self._in_flight == 0 and not self._due_now()),
                timeout=timeout,
            )

    def _due_now(self) -> bool:
        now = self._clock()
        return any(fire_at <= now for fire_at, _, p in self._heap if self._is_armed(p))

    def _is_armed(self, payload: TimerPayload) -> bool:
        return _key(payload.target_id, payload.due_at) in self._armed

    def _run(self) -> None:
        while True:
            with self._wakeup:
                due = self._take_due()
                while not due and not self._stopped:
                    wait = (
                        (self._heap[0][0] - self._clock()).total_seconds() if self._heap else None
                    )
                    self._wakeup.wait(timeout=wait)
                    due = self._take_due()
                if self._stopped:
                    return
                self._in_flight += len(due)
                self._fired += len(due)
            for payload in due:
                self._queue.put(payload)

    def _work(self) -> None:
        while (payload := self._queue.get()) is not None:
            self._fire(payload)

    def _take_due(self) -> list[TimerPayload]:
        now = self._clock()
        due: list[TimerPayload] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, payload = heapq.heappop(self._heap)
            key = _key(payload.target_id, payload.due_at)
            if key in self._armed:
                self._armed.discard(key)
                due.append(payload)
        return due

    def _fire(self, payload: TimerPayload) -> None:
        assert self._target is not None  # noqa: S101 - start() sets it before the loop runs
        try:
            self._target(payload)
        except Exception:
            logger.exception("timer target failed; armed again after the lease")
            self.retry_after_failure(payload)
        finally:
            with self._wakeup:
                self._in_flight -= 1
                self._wakeup.notify_all()

    def _push(self, payload: TimerPayload, fire_at: datetime) -> None:
        """Called holding the condition."""
        self._armed.add(_key(payload.target_id, payload.due_at))
        heapq.heappush(self._heap, (fire_at, next(self._order), payload))
        if self._heap[0][2] is payload:
            self._wakeup.notify_all()  # a new earliest: the loop's sleep is now too long
