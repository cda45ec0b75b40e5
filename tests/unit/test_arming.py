"""Pure helpers of timer arming: SQS delay, EventBridge fire time, schedule names."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.adapters.aws.timers import (
    SQS_MAX_DELAY_SECONDS,
    eventbridge_fire_time,
    schedule_name,
    sqs_delay_seconds,
)
from functions.domain.errors import ValidationError
from functions.domain.messages import new_message_id

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
# Offsets a due time may carry (whole minutes, as real zones do), including odd ones like +05:45.
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
DUE_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds of an aware strategy
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC) | OFFSETS,
)
SCHEDULE_NAME = re.compile(r"[0-9a-zA-Z\-_.]{1,64}")


# --- sqs_delay_seconds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (timedelta(seconds=10), 10),
        (timedelta(seconds=10, milliseconds=999), 10),
        (timedelta(milliseconds=999), 0),
        (timedelta(0), 0),
        (timedelta(seconds=-5), 0),
        (timedelta(seconds=900), 900),
        (timedelta(seconds=901), 900),
        (timedelta(days=3), 900),
    ],
)
def test_sqs_delay_floors_and_clamps_to_0_900(remaining: timedelta, expected: int) -> None:
    assert sqs_delay_seconds(NOW + remaining, NOW) == expected


@given(micros=st.integers(0, SQS_MAX_DELAY_SECONDS * 1_000_000))
def test_sqs_delay_lands_at_most_one_second_early_never_late(micros: int) -> None:
    # Given a due time within SQS's reach
    remaining = timedelta(microseconds=micros)
    # When the delay is computed
    delay = sqs_delay_seconds(NOW + remaining, NOW)
    # Then it never overshoots and loses less than a second
    assert 0 <= delay <= remaining.total_seconds()
    assert remaining.total_seconds() - delay < 1


@given(micros=st.integers(-(10**12), 10**12))
def test_sqs_delay_is_always_a_valid_sqs_delay(micros: int) -> None:
    delay = sqs_delay_seconds(NOW + timedelta(microseconds=micros), NOW)
    assert isinstance(delay, int)
    assert 0 <= delay <= SQS_MAX_DELAY_SECONDS == 900


# --- eventbridge_fire_time -------------------------------------------------------------------


def test_eventbridge_fire_time_is_the_minute_start_lead_before_due() -> None:
    due = datetime(2024, 6, 1, 12, 30, 45, 500_000, tzinfo=UTC)
    assert eventbridge_fire_time(due, timedelta(minutes=2)) == datetime(
        2024, 6, 1, 12, 28, tzinfo=UTC
    )


def test_eventbridge_fire_time_of_an_offset_due_time_is_in_utc() -> None:
    due = datetime(2024, 6, 1, 18, 15, 30, tzinfo=timezone(timedelta(hours=5, minutes=45)))
    fire = eventbridge_fire_time(due, timedelta(minutes=2))
    assert fire == datetime(2024, 6, 1, 12, 28, tzinfo=UTC)
    assert fire.utcoffset() == timedelta(0)


@given(due=DUE_TIMES, lead_seconds=st.integers(0, 3600))
def test_eventbridge_fires_on_a_minute_between_lead_and_lead_plus_a_minute_early(
    due: datetime, lead_seconds: int
) -> None:
    lead = timedelta(seconds=lead_seconds)
    fire = eventbridge_fire_time(due, lead)
    # Minute-aligned UTC, as `at(yyyy-mm-ddThh:mm:ss)` with zone UTC expects
    assert fire.utcoffset() == timedelta(0)
    assert (fire.second, fire.microsecond) == (0, 0)
    # At least `lead` ahead of due, and less than a minute more than that
    assert lead <= due - fire < lead + timedelta(minutes=1)


# --- schedule_name ---------------------------------------------------------------------------


@given(due=DUE_TIMES)
def test_schedule_names_are_valid_eventbridge_names(due: datetime) -> None:
    message_id = new_message_id()
    name = schedule_name(message_id, due)
    assert SCHEDULE_NAME.fullmatch(name), name
    assert name.startswith(f"{message_id}-")


def test_schedule_name_is_deterministic_and_distinguishes_wake_ups() -> None:
    message_id = new_message_id()
    due = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
    assert schedule_name(message_id, due) == schedule_name(message_id, due)
    assert schedule_name(message_id, due) == f"{message_id}-1717245000000"
    assert schedule_name(message_id, due) != schedule_name(message_id, due + timedelta(seconds=1))


def test_schedule_name_rejects_a_naive_due_time() -> None:
    with pytest.raises(ValidationError, match="must carry a time zone"):
        schedule_name("msg_x", datetime(2024, 6, 1, 12, 30))  # noqa: DTZ001


@given(
    target=st.text(min_size=1, max_size=300).filter(lambda s: s.strip()),
    due=DUE_TIMES,
)
def test_any_target_id_gives_a_valid_eventbridge_name(target: str, due: datetime) -> None:
    # A flow step's target is `<flow>#<run>#<index>`, and flow ids run to 128 characters.
    name = schedule_name(target, due)
    assert SCHEDULE_NAME.fullmatch(name), name
    assert len(name) <= 64


def test_step_targets_get_distinct_valid_names() -> None:
    due = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
    long_flow = "f" * 128
    names = {
        schedule_name(f"{flow}#{run}#{index}", due)
        for flow in ("session-42", long_flow, long_flow + "x")
        for run in (1, 2)
        for index in (0, 1, 10)
    }
    assert len(names) == 18
    assert all(SCHEDULE_NAME.fullmatch(n) and len(n) <= 64 for n in names)
