"""MessageStore.create with a deduplication claim: one message per id inside its window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.ports import (
    Adapters,
    ConditionFailedError,
    DedupClaim,
    DuplicateMessageError,
    Listing,
)
from tests.contract.builders import T0, at, new_message, race, stored

WINDOW = timedelta(minutes=10)


def test_twenty_concurrent_identical_publishes_store_exactly_one_message(
    backend: Adapters,
) -> None:
    # Given 20 publishes of the same deduplication id, each its own message
    messages = [new_message() for _ in range(20)]
    claim = DedupClaim(key="order-42", now=T0, window=WINDOW)
    # When they are created at the same moment
    outcomes = race(20, lambda i: backend.messages.create(messages[i], dedup=claim))
    # Then exactly one is stored
    winners = [m for m, outcome in zip(messages, outcomes, strict=True) if outcome is None]
    duplicates = [o for o in outcomes if isinstance(o, DuplicateMessageError)]
    assert (len(winners), len(duplicates)) == (1, 19), outcomes
    (first,) = winners
    ids = [m.message_id for m in messages]
    assert backend.messages.get_many(ids) == [stored(first)]
    assert backend.messages.newest(Listing.LOG, cursor=None, count=50).ids == [first.message_id]
    # And every duplicate names the one stored
    assert {d.first_message_id for d in duplicates} == {first.message_id}


def test_a_deduplication_id_is_refused_inside_its_window_and_accepted_after(
    backend: Adapters,
) -> None:
    # Given a message published with a deduplication id at T0 for a 10 minute window
    first = new_message()
    backend.messages.create(first, dedup=DedupClaim("order-42", T0, WINDOW))
    # When the same id is published inside the window, up to its very end
    for now in (at(1), T0 + WINDOW):
        again = new_message()
        with pytest.raises(DuplicateMessageError) as duplicate:
            backend.messages.create(again, dedup=DedupClaim("order-42", now, WINDOW))
        # Then it is refused with the first id, and nothing is stored
        assert duplicate.value.first_message_id == first.message_id
        assert backend.messages.find(again.message_id) is None
    # When it is published after the window
    later = new_message(created=T0 + WINDOW + timedelta(seconds=1))
    backend.messages.create(later, dedup=DedupClaim("order-42", later.created_at, WINDOW))
    # Then it is stored, and it opens a window of its own
    assert backend.messages.get(later.message_id) == stored(later)
    with pytest.raises(DuplicateMessageError) as duplicate:
        backend.messages.create(
            new_message(), dedup=DedupClaim("order-42", later.created_at + WINDOW, WINDOW)
        )
    assert duplicate.value.first_message_id == later.message_id


def test_different_deduplication_ids_do_not_collide(backend: Adapters) -> None:
    # Given a message published with one deduplication id
    first = new_message()
    backend.messages.create(first, dedup=DedupClaim("order-42", T0, WINDOW))
    # When another is published at once with another id, and a third without any
    second, third = new_message(), new_message()
    backend.messages.create(second, dedup=DedupClaim("order-43", T0, WINDOW))
    backend.messages.create(third)
    # Then all three are stored
    ids = [first.message_id, second.message_id, third.message_id]
    assert [m.message_id for m in backend.messages.get_many(ids)] == ids


def test_a_deduplicated_create_of_an_existing_id_takes_no_claim(backend: Adapters) -> None:
    # Given a stored message
    existing = new_message()
    backend.messages.create(existing)
    # When a message with the same id is created with a deduplication id
    with pytest.raises(ConditionFailedError):
        backend.messages.create(existing, dedup=DedupClaim("order-42", T0, WINDOW))
    # Then the deduplication id was not taken: a new message with it is accepted
    fresh = new_message()
    backend.messages.create(fresh, dedup=DedupClaim("order-42", at(1), WINDOW))
    assert backend.messages.get(fresh.message_id) == stored(fresh)
    assert backend.messages.get(existing.message_id) == stored(existing)
