"""The one clock: every time is timezone-aware UTC; naive times are refused, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain.clock import from_unix_seconds, parse_iso, require_utc, to_ms, utc_now
from functions.domain.errors import ValidationError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


def test_utc_now_is_timezone_aware_utc() -> None:
    now = utc_now()
    assert now.tzinfo is UTC


def test_require_utc_rejects_a_naive_time_naming_the_field() -> None:
    # Given a naive datetime, when normalised, then the error names the field; no zone is guessed.
    with pytest.raises(ValidationError, match="due_at must carry a time zone"):
        require_utc(datetime(2024, 1, 1, 12, 0), field="due_at")  # noqa: DTZ001


def test_require_utc_converts_an_offset_to_utc_keeping_the_instant() -> None:
    local = datetime(2024, 1, 1, 12, 0, tzinfo=PLUS_TWO)
    converted = require_utc(local, field="t")
    assert converted == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC
    assert converted.hour == 10


def test_require_utc_returns_a_utc_time_unchanged() -> None:
    value = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert require_utc(value, field="t") == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, 0, tzinfo=UTC)),
        ("2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8, 0, tzinfo=UTC)),
        ("2024-01-01T10:00:00.250-05:30", datetime(2024, 1, 1, 15, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_parse_iso_accepts_z_and_offsets_and_returns_utc(text: str, expected: datetime) -> None:
    parsed = parse_iso(text, field="notBefore")
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_parse_iso_rejects_a_naive_time_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="notBefore must carry a time zone"):
        parse_iso("2024-01-01T10:00:00", field="notBefore")


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01T00:00:00Z", "1700000000"])
def test_parse_iso_rejects_text_that_is_not_iso_8601(text: str) -> None:
    with pytest.raises(ValidationError, match="notBefore is not an ISO 8601 time"):
        parse_iso(text, field="notBefore")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EPOCH, 0),
        (datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), 1000),
        (datetime(2024, 1, 1, tzinfo=UTC), 1_704_067_200_000),
        (datetime(2024, 1, 1, 2, 0, tzinfo=PLUS_TWO), 1_704_067_200_000),
        (datetime(2024, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC), 1_704_067_200_999),
    ],
)
def test_to_ms_is_unix_milliseconds(value: datetime, expected: int) -> None:
    assert to_ms(value) == expected


def test_to_ms_rejects_a_naive_time() -> None:
    with pytest.raises(ValidationError, match="must carry a time zone"):
        to_ms(datetime(2024, 1, 1))  # noqa: DTZ001


@given(seconds=st.integers(0, 4_102_444_800))
def test_to_ms_of_whole_seconds_is_exact(seconds: int) -> None:
    assert to_ms(EPOCH + timedelta(seconds=seconds)) == seconds * 1000


@given(ms=st.integers(946_684_800_000, 4_102_444_800_000))
@example(ms=1_093_284_969_616)
@example(ms=2_150_796_502_161)
def test_to_ms_is_exact_for_millisecond_times(ms: int) -> None:
    # Given a time on a whole millisecond, when converted, then no millisecond is lost.
    assert to_ms(EPOCH + timedelta(milliseconds=ms)) == ms


@given(ms=st.integers(0, 4_102_444_800_000))
def test_from_unix_seconds_is_aware_utc_and_exact_to_the_millisecond(ms: int) -> None:
    value = from_unix_seconds(ms / 1000)
    assert value.tzinfo is UTC
    assert value == EPOCH + timedelta(milliseconds=ms)
