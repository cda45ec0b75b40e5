"""The embedded engine's timer heap: order, deduplication, disarm, failures, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from functions.adapters.sqlite import timers as timers_module
from functions.adapters.sqlite.timers import LocalTimers
from functions.domain.clock import utc_now
from functions.domain.timers import TimerPayload


class Fired:
    """Records what fired, and lets a test wait for a count."""

    def __init__(self) -> None:
        self.payloads: list[TimerPayload] = []
        self._changed = threading.Condition()

    def __call__(self, payload: TimerPayload) -> None:
        with self._changed:
            self.payloads.append(payload)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[TimerPayload]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.payloads) >= count, timeout=timeout)
            return list(self.payloads)


@pytest.fixture
def fired() -> Fired:
    return Fired()


@pytest.fixture
def timers(fired: Fired) -> Iterator[LocalTimers]:
    heap = LocalTimers(workers=1)  # one worker: targets run in the order they fell due
    heap.start(fired)
    yield heap
    heap.stop()


def test_timers_fire_in_due_order_whatever_the_arming_order(
    timers: LocalTimers, fired: Fired
) -> None:
    now = utc_now()
    for offset_ms, name in [(300, "c"), (100, "a"), (200, "b")]:
        timers.arm(TimerPayload(name, now + timedelta(milliseconds=offset_ms)), now=now)
    assert [p.target_id for p in fired.wait_for(3)] == ["a", "b", "c"]
    assert all(utc_now() >= p.due_at for p in fired.payloads)


def test_arming_the_same_wake_up_twice_fires_once(timers: LocalTimers, fired: Fired) -> None:
    now = utc_now()
    # Due far enough out that a stalled test thread still arms twice before the first fires
    payload = TimerPayload("once", now + timedelta(milliseconds=400))
    timers.arm(payload, now=now)
    timers.arm(payload, now=now)
    timers.arm(TimerPayload("after", now + timedelta(milliseconds=600)), now=now)
    assert [p.target_id for p in fired.wait_for(2)] == ["once", "after"]


def test_a_disarmed_timer_never_fires(timers: LocalTimers, fired: Fired) -> None:
    now = utc_now()
    gone = TimerPayload("gone", now + timedelta(milliseconds=400))  # disarmed well before
    timers.arm(gone, now=now)
    timers.arm(TimerPayload("kept", now + timedelta(milliseconds=600)), now=now)
    timers.disarm("gone", gone.due_at)
    assert [p.target_id for p in fired.wait_for(1)] == ["kept"]
    assert timers.pending() == 0


def test_a_timer_past_due_fires_at_once(timers: LocalTimers, fired: Fired) -> None:
    now = utc_now()
    timers.arm(TimerPayload("late", now - timedelta(hours=1)), now=now)
    assert [p.target_id for p in fired.wait_for(1)] == ["late"]


def test_a_failing_target_is_armed_again_with_the_same_payload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(timers_module, "RETRY_AFTER_FAILURE", timedelta(milliseconds=50))
    calls: list[TimerPayload] = []
    done = threading.Event()

    def flaky(payload: TimerPayload) -> None:
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("the process would have crashed here")
        done.set()

    heap = LocalTimers(workers=1)
    heap.start(flaky)
    try:
        payload = TimerPayload("flaky", utc_now())
        heap.arm(payload, now=utc_now())
        assert done.wait(5)
    finally:
        heap.stop()
    assert calls == [payload, payload]


def test_stop_returns_with_timers_still_armed(fired: Fired) -> None:
    heap = LocalTimers(workers=1)
    heap.start(fired)
    heap.arm(TimerPayload("far", utc_now() + timedelta(days=30)), now=utc_now())
    heap.stop()
    assert fired.payloads == []
    assert heap.pending() == 1


def _workers_alive(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(f"{name}_") and t.is_alive())


def test_every_worker_runs_from_the_start_and_all_leave_on_stop() -> None:
    """A pool that grew a thread whenever a burst found none idle would keep growing, an
    allocator arena per thread, for hours."""
    together = threading.Barrier(5)
    heap = LocalTimers(workers=4, name="fixedpool")
    heap.start(lambda _payload: together.wait(timeout=5))
    try:
        assert _workers_alive("fixedpool") == 4  # nothing armed yet
        now = utc_now()
        for n in range(4):
            heap.arm(TimerPayload(f"busy-{n}", now), now=now)
        together.wait(timeout=5)  # the four targets ran at the same time
    finally:
        heap.stop()
    deadline = time.monotonic() + 2
    while _workers_alive("fixedpool") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _workers_alive("fixedpool") == 0
