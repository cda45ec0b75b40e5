"""parse_duration: QStash duration strings (`10s`, `5m`, `1d10h30m`, bare seconds)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.durations import parse_duration
from functions.domain.errors import ValidationError

TEN_YEARS = timedelta(days=365 * 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1d10h30m", timedelta(days=1, hours=10, minutes=30)),
        ("1h30s", timedelta(hours=1, seconds=30)),
        ("0s", timedelta(0)),
        ("10", timedelta(seconds=10)),
        ("0", timedelta(0)),
        ("  10s  ", timedelta(seconds=10)),
        ("\t5m\n", timedelta(minutes=5)),
        (" 42 ", timedelta(seconds=42)),
    ],
)
def test_valid_durations_parse_to_their_timedelta(text: str, expected: timedelta) -> None:
    # Given a duration string QStash accepts, when parsed, then it is that timedelta.
    assert parse_duration(text, field="Upstash-Delay") == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "soon", "10x", "1h1d", "30s5m", "-10", "-10s", "1.5s", "s", "10 s", "1d1d", "h"],
)
def test_malformed_durations_are_rejected_naming_the_field(text: str) -> None:
    # Given a string that is not a duration, when parsed, then the error names the field and input.
    with pytest.raises(ValidationError, match="Upstash-Delay must be a duration") as err:
        parse_duration(text, field="Upstash-Delay")
    assert repr(text) in str(err.value)


def test_error_message_uses_the_callers_field_name() -> None:
    with pytest.raises(ValidationError, match=r"^Upstash-Timeout "):
        parse_duration("soon", field="Upstash-Timeout")


def test_exactly_ten_years_is_accepted() -> None:
    assert parse_duration("3650d", field="Upstash-Delay") == TEN_YEARS


@pytest.mark.parametrize("text", ["3651d", "3650d1s", str(int(TEN_YEARS.total_seconds()) + 1)])
def test_more_than_ten_years_is_rejected(text: str) -> None:
    # Given a duration just over ten years (unit form or bare seconds), then it is refused.
    with pytest.raises(ValidationError, match="Upstash-Delay is longer than 10 years"):
        parse_duration(text, field="Upstash-Delay")


@pytest.mark.parametrize("text", ["99999999999999999999", "99999999999999999999d"])
def test_absurdly_large_durations_are_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError, match="Upstash-Delay"):
        parse_duration(text, field="Upstash-Delay")


def test_non_decimal_digit_characters_are_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="Upstash-Delay"):
        parse_duration("²", field="Upstash-Delay")


@given(
    d=st.none() | st.integers(0, 3000),
    h=st.none() | st.integers(0, 1000),
    m=st.none() | st.integers(0, 10_000),
    s=st.none() | st.integers(0, 100_000),
)
def test_unit_sequences_parse_to_the_sum_of_their_parts(
    d: int | None, h: int | None, m: int | None, s: int | None
) -> None:
    # Given any d/h/m/s combination in QStash's order (each part optional, at least one present)
    parts = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n is not None) or "0s"
    # When parsed
    parsed = parse_duration(text, field="Upstash-Delay")
    # Then it equals the timedelta of those parts
    assert parsed == timedelta(days=d or 0, hours=h or 0, minutes=m or 0, seconds=s or 0)


@given(seconds=st.integers(0, int(TEN_YEARS.total_seconds())))
def test_bare_number_is_seconds_and_equals_the_s_form(seconds: int) -> None:
    bare = parse_duration(str(seconds), field="Upstash-Delay")
    assert bare == parse_duration(f"{seconds}s", field="Upstash-Delay")
    assert bare == timedelta(seconds=seconds)
