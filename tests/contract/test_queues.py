"""QueueStore: queues and their members, admitted oldest first and never past the parallelism;
MessageStore.park, which hands a claim back to a queue; and extend_lease, for a long attempt."""

from __future__ import annotations

import pytest

from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.messages import MessageState
from functions.domain.queues import Member, MemberState
from functions.ports import Adapters, ClaimRejectedError, ConditionFailedError
from tests.contract.builders import T0, at, claim, created, race, retrying


def _member(n: int, queue: str = "orders") -> Member:
    return Member(queue, f"msg_{n:03d}", f"{n:017d}#msg_{n:03d}")


def _join(backend: Adapters, *numbers: int, queue: str = "orders") -> None:
    for n in numbers:
        backend.queues.join(_member(n, queue), now=T0)


def test_an_upserted_queue_reads_back_and_keeps_its_creation_time(backend: Adapters) -> None:
    assert backend.queues.get("orders") is None
    backend.queues.upsert("orders", parallelism=3, paused=False, now=T0)
    backend.queues.upsert("audit", parallelism=1, paused=True, now=T0)
    backend.queues.upsert("orders", parallelism=5, paused=True, now=at(10))
    counts = backend.queues.get("orders")
    assert counts is not None
    assert (counts.queue.parallelism, counts.queue.paused) == (5, True)
    assert (counts.queue.created_at, counts.queue.updated_at) == (T0, at(10))
    assert (counts.waiting, counts.active, counts.lag) == (0, 0, 0)
    assert [c.queue.name for c in backend.queues.all()] == ["audit", "orders"]


def test_joining_an_unknown_queue_creates_it_with_parallelism_one(backend: Adapters) -> None:
    _join(backend, 1, 2)
    _join(backend, 1)  # a repeated join changes nothing
    counts = backend.queues.get("orders")
    assert counts is not None
    assert (counts.queue.parallelism, counts.queue.paused) == (1, False)
    assert (counts.waiting, counts.active) == (2, 0)
    assert backend.queues.state(_member(1)) is MemberState.WAITING
    assert backend.queues.state(_member(9)) is None


def test_admission_takes_the_oldest_members_up_to_the_parallelism(backend: Adapters) -> None:
    backend.queues.upsert("orders", parallelism=2, paused=False, now=T0)
    _join(backend, 3, 1, 4, 2)  # joined out of order: the order key decides
    assert backend.queues.admit("orders", now=T0).admitted == ["msg_001", "msg_002"]
    assert backend.queues.admit("orders", now=T0).admitted == []
    counts = backend.queues.get("orders")
    assert counts is not None
    assert (counts.waiting, counts.active) == (2, 2)
    assert [m.message_id for m in backend.queues.members("orders", MemberState.ACTIVE)] == [
        "msg_001",
        "msg_002",
    ]
    assert [m.message_id for m in backend.queues.members("orders", MemberState.WAITING)] == [
        "msg_003",
        "msg_004",
    ]


def test_leaving_frees_a_slot_for_the_next_member(backend: Adapters) -> None:
    _join(backend, 1, 2, 3)
    assert backend.queues.admit("orders", now=T0).admitted == ["msg_001"]
    assert backend.queues.leave(_member(1)) is True
    assert backend.queues.leave(_member(1)) is False
    assert backend.queues.admit("orders", now=T0).admitted == ["msg_002"]
    # A waiting member may leave too (a cancelled message): it is skipped
    assert backend.queues.leave(_member(3)) is True
    backend.queues.leave(_member(2))
    assert backend.queues.admit("orders", now=T0).admitted == []
    counts = backend.queues.get("orders")
    assert counts is not None
    assert (counts.waiting, counts.active) == (0, 0)


def test_a_paused_queue_admits_nothing_until_resumed(backend: Adapters) -> None:
    _join(backend, 1, 2)
    assert backend.queues.set_paused("orders", paused=True, now=at(1)) is True
    assert backend.queues.admit("orders", now=T0).admitted == []
    assert backend.queues.set_paused("orders", paused=False, now=at(2)) is True
    assert backend.queues.admit("orders", now=T0).admitted == ["msg_001"]
    assert backend.queues.set_paused("nope", paused=True, now=at(3)) is False


def test_racing_admissions_never_pass_the_parallelism(backend: Adapters) -> None:
    backend.queues.upsert("orders", parallelism=3, paused=False, now=T0)
    _join(backend, *range(1, 21))
    outcomes = race(8, lambda _i: backend.queues.admit("orders", now=T0).admitted)
    admitted = [i for outcome in outcomes if isinstance(outcome, list) for i in outcome]
    assert sorted(admitted) == ["msg_001", "msg_002", "msg_003"], outcomes
    counts = backend.queues.get("orders")
    assert counts is not None
    assert (counts.waiting, counts.active) == (17, 3)


def test_a_queue_is_deleted_only_when_it_holds_no_messages(backend: Adapters) -> None:
    with pytest.raises(NotFoundError):
        backend.queues.delete("orders")
    _join(backend, 1)
    with pytest.raises(ConflictError, match="still holds 1 message"):
        backend.queues.delete("orders")
    assert backend.queues.get("orders") is not None
    backend.queues.leave(_member(1))
    backend.queues.delete("orders")
    assert backend.queues.get("orders") is None
    assert backend.queues.all() == []


def test_a_parked_claim_waits_again_outside_the_wake_index(backend: Adapters) -> None:
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="t1")
    with pytest.raises(ConditionFailedError):
        backend.messages.park(message.message_id, lease_token="other", state=MessageState.CREATED)
    backend.messages.park(message.message_id, lease_token="t1", state=MessageState.CREATED)
    parked = backend.messages.get(message.message_id)
    assert (parked.state, parked.lease_token, parked.lease_until) == (
        MessageState.CREATED,
        None,
        None,
    )
    assert message.message_id not in backend.messages.pending_ids()
    assert backend.overdue.overdue(before=at(3600), limit=10) == []
    # Its queue wakes it later: it can be claimed, retried, and is back in the wake index
    claim(backend.messages, message.message_id, now=at(5), token="t2")

    backend.messages.record(
        message.message_id,
        lease_token="t2",
        state=MessageState.RETRY,
        event=retrying(at(5), at(65)),
        retried=1,
        next_due=at(65),
    )
    assert message.message_id in backend.messages.pending_ids()
    assert [t.target_id for t in backend.overdue.overdue(before=at(66), limit=10)] == [
        message.message_id
    ]


def test_only_the_lease_holder_may_extend_its_lease(backend: Adapters) -> None:
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="t1")
    with pytest.raises(ConditionFailedError):
        backend.messages.extend_lease(message.message_id, lease_token="other", until=at(900))
    backend.messages.extend_lease(message.message_id, lease_token="t1", until=at(900))
    leased = backend.messages.get(message.message_id)
    assert (leased.state, leased.lease_token, leased.lease_until) == (
        MessageState.ACTIVE,
        "t1",
        at(900),
    )
    # Its claim cannot be taken over until then
    with pytest.raises(ClaimRejectedError):
        claim(backend.messages, message.message_id, now=at(600), token="t2")
