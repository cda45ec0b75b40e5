"""When to try again: default backoff, Upstash-Retry-Delay expressions, server-requested delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.errors import ValidationError
from functions.domain.retry import (
    MAX_BACKOFF,
    default_backoff,
    retry_delay,
    server_requested_delay,
    validate_retry_delay,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
ONE_DAY = timedelta(days=1)


# --- default backoff -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "seconds"),
    [(1, 12.182), (2, 148.413), (3, 1808.042), (4, 22026.466)],
)
def test_default_backoff_is_e_to_the_two_and_a_half_n(retry: int, seconds: float) -> None:
    assert default_backoff(retry).total_seconds() == pytest.approx(seconds, abs=0.001)


def test_default_backoff_reaches_about_thirty_minutes_then_six_hours() -> None:
    assert timedelta(minutes=29) < default_backoff(3) < timedelta(minutes=31)
    assert timedelta(hours=6) < default_backoff(4) < timedelta(hours=6, minutes=10)


@pytest.mark.parametrize("retry", [5, 6, 20, 100])
def test_default_backoff_is_capped_at_one_day(retry: int) -> None:
    assert default_backoff(retry) == timedelta(seconds=86400)


@given(n=st.integers(0, 200))
def test_default_backoff_never_decreases_and_never_exceeds_a_day(n: int) -> None:
    assert default_backoff(n) <= default_backoff(n + 1) <= MAX_BACKOFF == ONE_DAY


# --- retry_delay -----------------------------------------------------------------------------


@given(retried=st.integers(0, 19))
def test_without_an_expression_the_delay_is_the_default_backoff_of_the_next_retry(
    retried: int,
) -> None:
    assert retry_delay(retried=retried, expression=None) == default_backoff(retried + 1)


@pytest.mark.parametrize(
    ("expression", "retried", "expected"),
    [
        ("1000 * (1 + retried)", 0, timedelta(seconds=1)),
        ("1000 * (1 + retried)", 1, timedelta(seconds=2)),
        ("1000 * (1 + retried)", 4, timedelta(seconds=5)),
        ("pow(2, retried)", 0, timedelta(milliseconds=1)),
        ("pow(2, retried)", 10, timedelta(milliseconds=1024)),
        ("max(10, pow(2, retried))", 0, timedelta(milliseconds=10)),
        ("max(10, pow(2, retried))", 5, timedelta(milliseconds=32)),
        ("0", 3, timedelta(0)),
    ],
)
def test_expression_gives_milliseconds(expression: str, retried: int, expected: timedelta) -> None:
    assert retry_delay(retried=retried, expression=expression) == expected


@pytest.mark.parametrize(
    ("expression", "retried"),
    [("86400000 * 2", 0), ("1000 * pow(10, retried)", 6), ("1000 * 60 * 60 * 25", 0)],
)
def test_expression_delay_is_capped_at_one_day(expression: str, retried: int) -> None:
    assert retry_delay(retried=retried, expression=expression) == ONE_DAY


@pytest.mark.parametrize(
    ("expression", "retried"), [("pow(10, retried)", 19), ("exp(retried * 50)", 13)]
)
def test_huge_expression_delay_is_capped_at_one_day(expression: str, retried: int) -> None:
    assert validate_retry_delay(expression) == expression
    assert retry_delay(retried=retried, expression=expression) == ONE_DAY


@pytest.mark.parametrize(
    ("retried", "seconds"),
    [(0, 60), (1, 120), (2, 240), (3, 480), (4, 960), (5, 1920), (6, 3600), (7, 3600), (19, 3600)],
)
def test_doubling_ladder_from_a_minute_capped_at_an_hour(retried: int, seconds: int) -> None:
    # Scenario 2: 60 s, 120 s, 240 s … then one hour per retry.
    expression = "min(3600000, 60000 * pow(2, retried))"
    assert validate_retry_delay(expression) == expression
    assert retry_delay(retried=retried, expression=expression) == timedelta(seconds=seconds)


def test_expression_that_breaks_at_delivery_falls_back_to_the_default() -> None:
    # exp() overflows only for large `retried`: validation passed, delivery falls back.
    assert validate_retry_delay("exp(retried * 100)") == "exp(retried * 100)"
    assert retry_delay(retried=10, expression="exp(retried * 100)") == default_backoff(11)


# --- validate_retry_delay --------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "1000",
        "1000 * (1 + retried)",
        "pow(2, retried)",
        "pow(2, retried) * 1000",
        "max(10, pow(2, retried))",
        "min(3600000, 60000 * pow(2, retried))",
        "0",
    ],
)
def test_valid_expressions_are_returned_unchanged(expression: str) -> None:
    assert validate_retry_delay(expression) == expression


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os')", "not a valid delay expression"),
        ("retried.__class__", "not a valid delay expression"),
        ("open('x')", "not a valid delay expression"),
        ("1 +", "not a valid delay expression"),
        ("'a'", "not a valid delay expression"),
        ("retried > 1", "not a valid delay expression"),
        ("unknown * 2", "not a valid delay expression"),
        ("1 / retried", "not a valid delay expression"),
        ("-1000", "gives a negative delay"),
        ("1000 - 500 * retried", "gives a negative delay"),
        ("1" * 300, "longer than 256 characters"),
        ("1e400", r"numbers are limited to ±1000000000"),
    ],
)
def test_unsafe_or_invalid_expressions_are_rejected(expression: str, why: str) -> None:
    with pytest.raises(ValidationError, match=f"^Upstash-Retry-Delay .*{why}"):
        validate_retry_delay(expression)


# --- server_requested_delay ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, timedelta(seconds=30)),
        ({"retry-after": " 30 "}, timedelta(seconds=30)),
        ({"Retry-After": "Sat, 01 Jun 2024 12:02:00 GMT"}, timedelta(minutes=2)),
        ({"X-RateLimit-Reset": "45"}, timedelta(seconds=45)),
        ({"x-ratelimit-reset": str(int(NOW.timestamp()) + 90)}, timedelta(seconds=90)),
        ({"Retry-After": "10", "X-RateLimit-Reset": "99"}, timedelta(seconds=10)),
        ({"Retry-After": "soon", "X-RateLimit-Reset": "99"}, timedelta(seconds=99)),
    ],
)
def test_server_requested_delay(headers: dict[str, str], expected: timedelta) -> None:
    assert server_requested_delay(headers, NOW) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "172800"},
        {"Retry-After": "Mon, 01 Jul 2024 12:00:00 GMT"},
        {"X-RateLimit-Reset": str(int(NOW.timestamp()) + 10 * 86400)},
    ],
)
def test_server_requested_delay_is_capped_at_one_day(headers: dict[str, str]) -> None:
    assert server_requested_delay(headers, NOW) == ONE_DAY


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "Sat, 01 Jun 2024 11:00:00 GMT"},
        {"X-RateLimit-Reset": str(int(NOW.timestamp()) - 60)},
    ],
)
def test_a_time_in_the_past_means_no_wait(headers: dict[str, str]) -> None:
    assert server_requested_delay(headers, NOW) == timedelta(0)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain"}, {"Retry-After": "soon"}, {"X-RateLimit-Reset": "x"}],
)
def test_no_usable_header_means_none(headers: dict[str, str]) -> None:
    assert server_requested_delay(headers, NOW) is None


@pytest.mark.parametrize(
    "headers", [{"Retry-After": "99999999999999"}, {"X-RateLimit-Reset": "99999999999999999"}]
)
def test_huge_server_requested_delay_is_capped_at_one_day(headers: dict[str, str]) -> None:
    assert server_requested_delay(headers, NOW) == ONE_DAY


@given(seconds=st.integers(0, 10**8))
def test_retry_after_seconds_is_taken_up_to_one_day(seconds: int) -> None:
    delay = server_requested_delay({"Retry-After": str(seconds)}, NOW)
    assert delay == min(ONE_DAY, timedelta(seconds=seconds))


def test_the_readmes_ladder_is_60s_doubling_to_a_one_hour_cap() -> None:
    # The README's scenario 2 ladder: 60 s, 120 s, 240 s, ... capped at 1 h
    ladder = "min(3600000, 60000 * pow(2, retried))"
    delays = [retry_delay(retried=n, expression=ladder).total_seconds() for n in range(8)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
