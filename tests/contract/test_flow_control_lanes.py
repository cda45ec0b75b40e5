"""QueueStore's flow-control lanes: limits taken from messages unless pinned, a rate per
period that admits no more than it allows however many race, and a period reset."""

from __future__ import annotations

from datetime import timedelta

from functions.domain.queues import LaneSettings, Member, Queue
from functions.ports import Adapters
from tests.contract.builders import T0, at, race

LANE = "flowControl:tenant-a"


def _member(n: int) -> Member:
    return Member(LANE, f"msg_{n:03d}", f"{n:017d}#msg_{n:03d}")


def _join(backend: Adapters, *numbers: int, settings: LaneSettings) -> None:
    for n in numbers:
        backend.queues.join(_member(n), now=T0, settings=settings)


def _lane(backend: Adapters) -> Queue:
    counts = backend.queues.get(LANE)
    assert counts is not None
    return counts.queue


def test_a_key_takes_its_messages_limits_until_they_are_pinned(backend: Adapters) -> None:
    _join(backend, 1, settings=LaneSettings(parallelism=None, rate=5, period_seconds=60))
    lane = _lane(backend)
    assert (lane.parallelism, lane.rate, lane.period_seconds) == (None, 5, 60)
    # The latest message's limits win
    _join(backend, 2, settings=LaneSettings(parallelism=3, rate=None))
    lane = _lane(backend)
    assert (lane.parallelism, lane.rate) == (3, None)
    # Pinned, messages no longer change them; unpinned, they do again
    assert backend.queues.pin(
        LANE, LaneSettings(parallelism=7, rate=2, period_seconds=10), now=at(1)
    )
    _join(backend, 3, settings=LaneSettings(parallelism=1, rate=100, period_seconds=1))
    lane = _lane(backend)
    assert (lane.parallelism, lane.rate, lane.period_seconds) == (7, 2, 10)
    assert (lane.pinned_parallelism, lane.pinned_rate) == (True, True)
    assert backend.queues.unpin(LANE, parallelism=True, rate=False, now=at(2))
    _join(backend, 4, settings=LaneSettings(parallelism=1, rate=100, period_seconds=1))
    lane = _lane(backend)
    assert (lane.parallelism, lane.rate, lane.pinned_parallelism) == (1, 2, False)
    assert backend.queues.pin("flowControl:nope", LaneSettings(parallelism=1), now=at(3)) is False


def test_the_rate_admits_so_many_per_period_and_names_the_next_period(backend: Adapters) -> None:
    _join(backend, 1, 2, 3, 4, 5, settings=LaneSettings(rate=2, period_seconds=10))
    first = backend.queues.admit(LANE, now=T0)
    assert first.admitted == ["msg_001", "msg_002"]
    assert (first.held_back, first.next_period) == ("msg_003", at(10))
    # No parallelism limit: leaving frees nothing the rate has spent
    backend.queues.leave(_member(1))
    backend.queues.leave(_member(2))
    assert backend.queues.admit(LANE, now=at(5)).admitted == []
    # The next period admits the next two
    assert backend.queues.admit(LANE, now=at(10)).admitted == ["msg_003", "msg_004"]
    lane = _lane(backend)
    assert (lane.rate_count, lane.period_start) == (2, at(10))
    # A reset ends the period at once
    assert backend.queues.reset_rate(LANE, now=at(11))
    assert backend.queues.admit(LANE, now=at(11)).admitted == ["msg_005"]


def test_parallelism_and_rate_together_admit_what_both_allow(backend: Adapters) -> None:
    _join(backend, 1, 2, 3, settings=LaneSettings(parallelism=1, rate=10, period_seconds=1))
    admission = backend.queues.admit(LANE, now=T0)
    # The parallelism binds, not the rate: a departure, not a period, frees the next
    assert (admission.admitted, admission.held_back) == (["msg_001"], None)
    backend.queues.leave(_member(1))
    assert backend.queues.admit(LANE, now=T0 + timedelta(milliseconds=1)).admitted == ["msg_002"]


def test_racing_admissions_never_pass_the_rate(backend: Adapters) -> None:
    _join(backend, *range(1, 21), settings=LaneSettings(rate=3, period_seconds=60))
    outcomes = race(8, lambda _i: backend.queues.admit(LANE, now=T0).admitted)
    admitted = [i for outcome in outcomes if isinstance(outcome, list) for i in outcome]
    assert sorted(admitted) == ["msg_001", "msg_002", "msg_003"], outcomes
    assert _lane(backend).rate_count == 3


def test_a_key_can_be_made_ahead_of_its_messages_and_keeps_what_it_has(
    backend: Adapters,
) -> None:
    backend.queues.ensure(LANE, now=T0)
    lane = _lane(backend)
    assert (lane.parallelism, lane.rate, lane.paused) == (None, None, False)
    backend.queues.set_paused(LANE, paused=True, now=at(1))
    backend.queues.ensure(LANE, now=at(2))  # again: nothing changes
    assert _lane(backend).paused is True
    assert _lane(backend).created_at == T0
