"""MessageStore: creating and reading, the claim and its lease, recording an outcome, cancelling."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.messages import Event, EventState, Message, MessageState
from functions.ports import Adapters, ClaimRejectedError, ConditionFailedError, Listing
from tests.contract.builders import (
    LEASE,
    T0,
    at,
    claim,
    created,
    deliver,
    delivered,
    fail,
    new_message,
    race,
    retrying,
    stored,
)

# --- create and read ------------------------------------------------------------------------


def test_a_created_message_reads_back_as_created_with_its_created_event(backend: Adapters) -> None:
    # Given a message with every optional field set
    message = new_message(
        body=b"\x00\xffbinary",
        max_retries=5,
        retry_delay="1000 * retried",
        timeout_seconds=12,
        callback="https://example.com/cb",
        failure_callback="https://example.com/fcb",
        label="invoices",
        options={"deduplicationId": "d-1", "callbackRetries": 2},
        due=at(60),
    )
    # When it is created
    backend.messages.create(message)
    # Then get and find return it as stored: CREATED, one CREATED event at its creation time
    assert backend.messages.get(message.message_id) == stored(message)
    assert backend.messages.find(message.message_id) == stored(message)


def test_creating_an_existing_id_fails_and_keeps_the_first(backend: Adapters) -> None:
    # Given a stored message
    first = created(backend.messages)
    # When another message with the same id is created
    with pytest.raises(ConditionFailedError):
        backend.messages.create(replace(new_message(), message_id=first.message_id))
    # Then the first is unchanged
    assert backend.messages.get(first.message_id) == stored(first)


def test_an_unknown_message_is_not_found(backend: Adapters) -> None:
    # Given nothing stored
    # When an unknown id is read
    # Then get raises NotFoundError and find returns None
    with pytest.raises(NotFoundError):
        backend.messages.get("msg_unknown")
    assert backend.messages.find("msg_unknown") is None


def test_get_many_returns_the_existing_ones_in_the_order_asked(backend: Adapters) -> None:
    # Given three stored messages
    a, b, c = (created(backend.messages) for _ in range(3))
    # When some are asked for in another order, with an unknown id among them
    found = backend.messages.get_many([c.message_id, "msg_unknown", a.message_id, b.message_id])
    # Then the existing ones come back in that order
    assert [m.message_id for m in found] == [c.message_id, a.message_id, b.message_id]


# --- the claim ------------------------------------------------------------------------------


def test_fifty_concurrent_claims_of_a_due_message_have_exactly_one_winner(
    backend: Adapters,
) -> None:
    # Given a message that is due
    message = created(backend.messages, due=T0)
    # When 50 workers claim it at the same moment, each with its own lease token
    outcomes = race(
        50, lambda i: claim(backend.messages, message.message_id, now=T0, token=f"lease-{i}")
    )
    # Then exactly one claim wins and the other 49 are rejected
    winners = [o for o in outcomes if isinstance(o, Message)]
    losers = [o for o in outcomes if isinstance(o, ClaimRejectedError)]
    others = [o for o in outcomes if not isinstance(o, Message | ClaimRejectedError)]
    assert (len(winners), len(losers)) == (1, 49), others
    # And the stored record holds the winner's lease
    (winner,) = winners
    record = backend.messages.get(message.message_id)
    assert record.state is MessageState.ACTIVE
    assert record.lease_token == winner.lease_token
    assert record.lease_until == T0 + LEASE
    # And every rejection carries that record
    assert all(loser.message == record for loser in losers)


def test_a_claim_returns_the_leased_message(backend: Adapters) -> None:
    # Given a due message
    message = created(backend.messages, due=T0)
    # When it is claimed
    claimed = claim(backend.messages, message.message_id, now=at(5), token="lease-1")
    # Then it is ACTIVE under that lease, and that is what a read returns
    assert claimed == replace(
        stored(message), state=MessageState.ACTIVE, lease_token="lease-1", lease_until=at(35)
    )
    assert backend.messages.get(message.message_id) == claimed


def test_a_message_not_yet_due_cannot_be_claimed_until_within_the_early_tolerance(
    backend: Adapters,
) -> None:
    # Given a message due at T0+60s
    message = created(backend.messages, due=at(60))
    # When it is claimed 5 s early, the claim is rejected with the waiting record
    with pytest.raises(ClaimRejectedError) as rejected:
        claim(backend.messages, message.message_id, now=at(55), token="early")
    assert rejected.value.message == stored(message)
    # Then a claim within the early tolerance (1 s) wins
    claimed = claim(backend.messages, message.message_id, now=at(59), token="on-time")
    assert claimed.lease_token == "on-time"


def test_a_claimed_message_cannot_be_claimed_again_while_its_lease_lives(
    backend: Adapters,
) -> None:
    # Given a message claimed at T0 with a 30 s lease
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="first")
    # When it is claimed again before the lease ends, and at its very end
    for now in (at(10), at(30)):
        with pytest.raises(ClaimRejectedError) as rejected:
            claim(backend.messages, message.message_id, now=now, token="second")
        # Then the claim is rejected, and the first lease still holds
        assert rejected.value.message is not None
        assert rejected.value.message.lease_token == "first"
    assert backend.messages.get(message.message_id).lease_token == "first"


def test_a_claimed_message_can_be_claimed_again_once_its_lease_expired(
    backend: Adapters,
) -> None:
    # Given a message claimed at T0 with a 30 s lease (an attempt that crashed)
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="crashed")
    # When it is claimed after the lease ended
    reclaimed = claim(backend.messages, message.message_id, now=at(31), token="second")
    # Then the new claim wins with a fresh lease
    assert reclaimed.state is MessageState.ACTIVE
    assert (reclaimed.lease_token, reclaimed.lease_until) == ("second", at(61))
    assert backend.messages.get(message.message_id) == reclaimed


def test_record_succeeds_only_with_the_current_lease_token(backend: Adapters) -> None:
    # Given a message whose first lease expired and was taken over by a second claim
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="old")
    current = claim(backend.messages, message.message_id, now=at(31), token="new")
    # When the old lease holder records an outcome
    with pytest.raises(ConditionFailedError):
        backend.messages.record(
            message.message_id,
            lease_token="old",
            state=MessageState.DELIVERED,
            event=delivered(at(32)),
            retried=0,
        )
    # Then nothing changed
    assert backend.messages.get(message.message_id) == current
    # And the current holder can record
    recorded = backend.messages.record(
        message.message_id,
        lease_token="new",
        state=MessageState.DELIVERED,
        event=delivered(at(33)),
        retried=0,
    )
    assert recorded.state is MessageState.DELIVERED


def test_record_without_a_claim_fails_and_changes_nothing(backend: Adapters) -> None:
    # Given a message nobody claimed
    message = created(backend.messages, due=T0)
    # When an outcome is recorded for it
    with pytest.raises(ConditionFailedError):
        backend.messages.record(
            message.message_id,
            lease_token="never-claimed",
            state=MessageState.DELIVERED,
            event=delivered(T0),
            retried=0,
        )
    # Then it is still waiting
    assert backend.messages.get(message.message_id) == stored(message)


def test_finished_and_unknown_messages_cannot_be_claimed(backend: Adapters) -> None:
    # Given a delivered message
    message = created(backend.messages, due=T0)
    deliver(backend.messages, message.message_id, now=T0)
    # When it is claimed, even long after, the rejection carries the finished record
    with pytest.raises(ClaimRejectedError) as rejected:
        claim(backend.messages, message.message_id, now=at(3600), token="late")
    assert rejected.value.message is not None
    assert rejected.value.message.state is MessageState.DELIVERED
    # And a claim of an unknown id is rejected without a record
    with pytest.raises(ClaimRejectedError) as unknown:
        claim(backend.messages, "msg_unknown", now=T0, token="x")
    assert unknown.value.message is None


# --- recording outcomes ---------------------------------------------------------------------


def test_record_retry_with_next_due_moves_the_due_time_and_frees_the_lease(
    backend: Adapters,
) -> None:
    # Given a claimed message
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="lease-1")
    # When the attempt records a RETRY due a minute later
    event = retrying(at(1), at(61))
    recorded = backend.messages.record(
        message.message_id,
        lease_token="lease-1",
        state=MessageState.RETRY,
        event=event,
        retried=1,
        next_due=at(61),
    )
    # Then it waits again, due at next_due, without a lease, with the attempt's event
    expected = replace(
        stored(message),
        state=MessageState.RETRY,
        due_at=at(61),
        retried=1,
        events=(Event(EventState.CREATED, T0), event),
    )
    assert recorded == expected
    assert backend.messages.get(message.message_id) == expected
    # And it is still pending, not claimable before its new due time, claimable at it
    assert message.message_id in backend.messages.pending_ids()
    with pytest.raises(ClaimRejectedError):
        claim(backend.messages, message.message_id, now=at(30), token="too-early")
    assert claim(backend.messages, message.message_id, now=at(61), token="lease-2").retried == 1


def test_record_delivered_leaves_the_pending_ids(backend: Adapters) -> None:
    # Given two claimed messages
    kept = created(backend.messages, due=T0)
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="lease-1")
    assert message.message_id in backend.messages.pending_ids()
    # When one records DELIVERED
    event = delivered(at(1))
    recorded = backend.messages.record(
        message.message_id,
        lease_token="lease-1",
        state=MessageState.DELIVERED,
        event=event,
        retried=0,
    )
    # Then it is DELIVERED with the event, and only the other one is still pending
    assert recorded == replace(
        stored(message),
        state=MessageState.DELIVERED,
        events=(Event(EventState.CREATED, T0), event),
    )
    assert backend.messages.get(message.message_id) == recorded
    assert backend.messages.pending_ids() == [kept.message_id]
    # And it is not in the DLQ
    with pytest.raises(NotFoundError):
        backend.messages.in_dlq(message.message_id)


def test_record_failed_puts_the_message_in_the_dlq_until_removed(backend: Adapters) -> None:
    # Given a claimed message
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="lease-1")
    # When it records FAILED
    failed_record = backend.messages.record(
        message.message_id,
        lease_token="lease-1",
        state=MessageState.FAILED,
        event=Event(EventState.FAILED, at(1), attempt=4, response_status=500, error="HTTP 500"),
        retried=3,
    )
    # Then it is listed in the DLQ, found there, and no longer pending
    assert failed_record.state is MessageState.FAILED
    assert backend.messages.newest(Listing.DLQ, cursor=None, count=10).ids == [message.message_id]
    assert backend.messages.in_dlq(message.message_id) == failed_record
    assert backend.messages.pending_ids() == []
    # When it is removed from the DLQ: True the first time, False after
    assert backend.messages.remove_from_dlq(message.message_id) is True
    assert backend.messages.remove_from_dlq(message.message_id) is False
    # Then the DLQ no longer has it, but the message itself and its log entry remain
    with pytest.raises(NotFoundError):
        backend.messages.in_dlq(message.message_id)
    assert backend.messages.newest(Listing.DLQ, cursor=None, count=10).ids == []
    assert backend.messages.get(message.message_id) == failed_record
    assert backend.messages.newest(Listing.LOG, cursor=None, count=10).ids == [message.message_id]


def test_the_dlq_of_unknown_or_waiting_messages_is_empty(backend: Adapters) -> None:
    # Given a waiting message
    message = created(backend.messages, due=T0)
    # Then neither it nor an unknown id is in the DLQ, and neither can be removed from it
    for message_id in (message.message_id, "msg_unknown"):
        with pytest.raises(NotFoundError):
            backend.messages.in_dlq(message_id)
        assert backend.messages.remove_from_dlq(message_id) is False


# --- cancel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [MessageState.CREATED, MessageState.RETRY, MessageState.ACTIVE])
def test_cancel_of_a_pending_message_cancels_it_once(
    backend: Adapters, state: MessageState
) -> None:
    # Given a message that is CREATED, waiting to RETRY, or ACTIVE (claimed)
    message = created(backend.messages, due=T0)
    if state is not MessageState.CREATED:
        claim(backend.messages, message.message_id, now=T0, token="lease-1")
    if state is MessageState.RETRY:
        backend.messages.record(
            message.message_id,
            lease_token="lease-1",
            state=MessageState.RETRY,
            event=retrying(at(1), at(60)),
            retried=1,
            next_due=at(60),
        )
    before = backend.messages.get(message.message_id)
    # When it is cancelled
    assert backend.messages.cancel(message.message_id, now=at(10)) is True
    # Then it is CANCELED, without a lease, with a CANCELED event, and no longer pending
    assert backend.messages.get(message.message_id) == replace(
        before,
        state=MessageState.CANCELED,
        lease_token=None,
        lease_until=None,
        events=(*before.events, Event(EventState.CANCELED, at(10))),
    )
    assert backend.messages.pending_ids() == []
    # And cancelling again answers False and changes nothing
    cancelled = backend.messages.get(message.message_id)
    assert backend.messages.cancel(message.message_id, now=at(20)) is False
    assert backend.messages.get(message.message_id) == cancelled
    # And it can never be claimed again
    with pytest.raises(ClaimRejectedError):
        claim(backend.messages, message.message_id, now=at(3600), token="late")


def test_the_lease_holder_of_a_cancelled_message_cannot_record(backend: Adapters) -> None:
    # Given a claimed message that is then cancelled
    message = created(backend.messages, due=T0)
    claim(backend.messages, message.message_id, now=T0, token="lease-1")
    backend.messages.cancel(message.message_id, now=at(1))
    cancelled = backend.messages.get(message.message_id)
    # When its attempt records DELIVERED
    with pytest.raises(ConditionFailedError):
        backend.messages.record(
            message.message_id,
            lease_token="lease-1",
            state=MessageState.DELIVERED,
            event=delivered(at(2)),
            retried=0,
        )
    # Then it stays cancelled
    assert backend.messages.get(message.message_id) == cancelled


@pytest.mark.parametrize("outcome", [MessageState.DELIVERED, MessageState.FAILED])
def test_cancel_of_a_finished_message_is_a_conflict(
    backend: Adapters, outcome: MessageState
) -> None:
    # Given a delivered or failed message
    message = created(backend.messages, due=T0)
    finish = deliver if outcome is MessageState.DELIVERED else fail
    finished = finish(backend.messages, message.message_id, now=T0)
    # When it is cancelled
    with pytest.raises(ConflictError) as conflict:
        backend.messages.cancel(message.message_id, now=at(10))
    # Then the conflict names its state, and it is unchanged
    assert conflict.value.current == {"state": outcome.value}
    assert backend.messages.get(message.message_id) == finished


def test_cancel_of_an_unknown_message_is_not_found(backend: Adapters) -> None:
    # Given nothing stored
    # When an unknown id is cancelled
    # Then NotFoundError, and nothing was created
    with pytest.raises(NotFoundError):
        backend.messages.cancel("msg_unknown", now=T0)
    assert backend.messages.find("msg_unknown") is None


def _deliver_while_cancelling(backend: Adapters, message_id: str) -> tuple[str, str]:
    """A worker claims and delivers the message while a user cancels it, released at once;
    what each of them saw."""

    def worker() -> str:
        try:
            claim(backend.messages, message_id, now=T0, token="worker")
        except ClaimRejectedError:
            return "claim rejected"
        try:
            backend.messages.record(
                message_id,
                lease_token="worker",
                state=MessageState.DELIVERED,
                event=delivered(at(1)),
                retried=0,
            )
        except ConditionFailedError:
            return "record conflict"
        return "delivered"

    def user() -> str:
        try:
            return "cancelled" if backend.messages.cancel(message_id, now=at(1)) else "no-op"
        except ConflictError:
            return "cancel conflict"

    seen = race(2, lambda i: worker() if i == 0 else user())
    assert all(isinstance(s, str) for s in seen), seen
    return str(seen[0]), str(seen[1])


def test_cancel_racing_a_delivery_ends_in_one_consistent_outcome(backend: Adapters) -> None:
    for _ in range(5):
        # Given a due message
        message_id = created(backend.messages, due=T0).message_id
        # When a worker claims and delivers it while a user cancels it, at the same moment
        worker, user = _deliver_while_cancelling(backend, message_id)
        # Then the outcome is one of the consistent pairs, and the record says the same
        record = backend.messages.get(message_id)
        states = [e.state for e in record.events]
        if record.state is MessageState.CANCELED:
            assert (worker, user) in {
                ("claim rejected", "cancelled"),
                ("record conflict", "cancelled"),
            }
            assert states == [EventState.CREATED, EventState.CANCELED]
            assert record.lease_token is None
            # and no claim succeeds after
            with pytest.raises(ClaimRejectedError):
                claim(backend.messages, message_id, now=at(3600), token="after")
        else:
            assert (worker, user) == ("delivered", "cancel conflict")
            assert record.state is MessageState.DELIVERED
            assert states == [EventState.CREATED, EventState.DELIVERED]
        assert message_id not in backend.messages.pending_ids()
