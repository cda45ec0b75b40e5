"""QueueService on each backend: the gate's admissions and recovery's reconcile, with the
timers it arms recorded. (Deliveries through real queues: tests/e2e/test_sdk_queues.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from functions.domain.messages import MessageState
from functions.domain.queues import MemberState, member_of
from functions.domain.timers import TimerPayload
from functions.ports import Adapters
from functions.services.queues import QueueService
from functions.services.recovery import GRACE
from tests.contract.builders import T0, at, claim, deliver, new_message


@dataclass
class RecordingTimers:
    armed: list[str] = field(default_factory=list)

    def arm(self, payload: TimerPayload, *, now: datetime) -> None:
        self.armed.append(payload.target_id)

    def disarm(self, target_id: str, due_at: datetime) -> None:
        return None


def _service(backend: Adapters, timers: RecordingTimers, now: datetime) -> QueueService:
    return QueueService(
        store=backend.queues, messages=backend.messages, timers=timers, clock=lambda: now
    )


def _queued(backend: Adapters, n: int) -> str:
    message = new_message(f"msg_q{n}", created=at(n), options={"queueName": "orders"})
    backend.messages.create(message)
    return message.message_id


def test_joining_admits_and_wakes_only_what_the_parallelism_allows(backend: Adapters) -> None:
    timers = RecordingTimers()
    service = _service(backend, timers, at(10))
    for n in (1, 2, 3):
        message = backend.messages.get(_queued(backend, n))
        member = member_of(message)
        assert member is not None
        service.join(member)
    service.drain("orders")
    assert timers.armed == ["msg_q1"]
    # The second's own claim is not admitted: it is parked, out of the wake index
    second = claim(backend.messages, "msg_q2", now=at(10), token="t")
    assert service.admit(second) is False
    backend.messages.park("msg_q2", lease_token="t", state=MessageState.CREATED)
    assert "msg_q2" not in backend.messages.pending_ids()
    # When the first is delivered and finished, the second is admitted and woken
    deliver(backend.messages, "msg_q1", now=at(11))
    service.finished(backend.messages.get("msg_q1"))
    assert timers.armed == ["msg_q1", "msg_q2"]
    assert sorted(service.member_ids()) == ["msg_q2", "msg_q3"]


def test_reconcile_frees_the_slot_of_a_finished_message_and_admits_the_next(
    backend: Adapters,
) -> None:
    timers = RecordingTimers()
    for n in (1, 2):
        member = member_of(backend.messages.get(_queued(backend, n)))
        assert member is not None
        backend.queues.join(member, now=T0)
    assert backend.queues.admit("orders", now=T0).admitted == ["msg_q1"]
    # A crash after the record: delivered, but its slot was never freed
    deliver(backend.messages, "msg_q1", now=at(5))
    service = _service(backend, timers, at(600))
    assert service.reconcile(grace=GRACE) == 1
    assert timers.armed == ["msg_q2"]
    assert [m.message_id for m in backend.queues.members("orders", MemberState.ACTIVE)] == [
        "msg_q2"
    ]


def test_reconcile_wakes_an_admitted_message_whose_wake_up_was_lost(backend: Adapters) -> None:
    timers = RecordingTimers()
    member = member_of(backend.messages.get(_queued(backend, 1)))
    assert member is not None
    backend.queues.join(member, now=T0)
    # Admitted, and then the process died before arming its timer
    backend.queues.admit("orders", now=T0)
    _service(backend, timers, at(30)).reconcile(grace=GRACE)
    assert timers.armed == []  # within the grace its timer may still be on its way
    _service(backend, timers, at(600)).reconcile(grace=GRACE)
    assert timers.armed == ["msg_q1"]


def test_a_message_whose_enqueue_stopped_before_joining_joins_at_its_claim(
    backend: Adapters,
) -> None:
    timers = RecordingTimers()
    service = _service(backend, timers, at(10))
    message = claim(backend.messages, _queued(backend, 1), now=at(10), token="t")
    assert service.admit(message) is True
    counts = backend.queues.get("orders")
    assert counts is not None
    assert (counts.waiting, counts.active) == (0, 1)
    # And the retry of an admitted message keeps its slot
    assert service.admit(replace(message, retried=1)) is True
