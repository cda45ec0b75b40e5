"""A message's life: which state may follow which, and its id."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.messages import (
    CANCELLABLE,
    CLAIMABLE,
    TERMINAL,
    MessageState,
    can_transition,
    new_message_id,
)

STATES = st.sampled_from(list(MessageState))


@given(current=st.sampled_from(sorted(TERMINAL)), new=STATES)
def test_terminal_states_have_no_successors(current: MessageState, new: MessageState) -> None:
    assert not can_transition(current, new)


@given(current=STATES)
def test_nothing_returns_to_created(current: MessageState) -> None:
    assert not can_transition(current, MessageState.CREATED)


OUTCOMES = st.sampled_from([MessageState.DELIVERED, MessageState.RETRY, MessageState.FAILED])


@given(current=STATES, new=OUTCOMES)
def test_only_an_active_attempt_reaches_an_outcome(
    current: MessageState, new: MessageState
) -> None:
    # DELIVERED, RETRY and FAILED are results of an attempt, so only ACTIVE leads there.
    assert can_transition(current, new) == (current is MessageState.ACTIVE)


def test_terminal_states_are_delivered_failed_and_canceled() -> None:
    assert {MessageState.DELIVERED, MessageState.FAILED, MessageState.CANCELED} == TERMINAL


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (MessageState.CREATED, MessageState.DELIVERED),
        (MessageState.CREATED, MessageState.FAILED),
        (MessageState.CREATED, MessageState.RETRY),
        (MessageState.RETRY, MessageState.DELIVERED),
        (MessageState.DELIVERED, MessageState.ACTIVE),
        (MessageState.CANCELED, MessageState.ACTIVE),
    ],
)
def test_illegal_steps(current: MessageState, new: MessageState) -> None:
    assert can_transition(current, new) is False


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (MessageState.CREATED, MessageState.ACTIVE),
        (MessageState.RETRY, MessageState.ACTIVE),
        (MessageState.ACTIVE, MessageState.ACTIVE),
        (MessageState.ACTIVE, MessageState.DELIVERED),
        (MessageState.ACTIVE, MessageState.RETRY),
        (MessageState.ACTIVE, MessageState.FAILED),
    ],
)
def test_legal_steps(current: MessageState, new: MessageState) -> None:
    assert can_transition(current, new) is True


@given(current=STATES)
def test_claimable_and_cancellable_states_may_take_those_steps(current: MessageState) -> None:
    assert can_transition(current, MessageState.ACTIVE) == (
        current in CLAIMABLE or current is MessageState.ACTIVE
    )
    assert can_transition(current, MessageState.CANCELED) == (current in CANCELLABLE)


def test_message_ids_are_prefixed_url_safe_and_unique() -> None:
    ids = [new_message_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for message_id in ids:
        assert message_id.startswith("msg_")
        assert re.fullmatch(r"msg_[A-Za-z0-9_-]{20,}", message_id), message_id
