"""Durations and times: `Upstash-Delay`, `Upstash-Not-Before` (unix seconds),
`Upstash-Timeout` and `Upstash-Retries`; each is a value or a 400 naming its header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain import timeouts
from functions.domain.durations import parse_duration
from functions.domain.errors import DuetimeError, ValidationError
from functions.domain.publish import MAX_RETRIES, Headers, PublishLimits, due_time, parse_publish
from tests.property.strategies import (
    durations,
    format_duration,
    retries_text,
    timeouts_text,
    unicode_chars,
)
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples, value_or_named_error

pytestmark = QUIET_SYNTAX_WARNINGS

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TEN_YEARS = timedelta(days=3650)
LIMITS = PublishLimits(max_body_bytes=1024)


@examples(80)
@given(durations, st.sampled_from(["Upstash-Delay", "steps[0].delay", "Upstash-Callback-Delay"]))
def test_a_duration_is_a_bounded_timedelta_or_a_400_naming_the_field(text: str, field: str) -> None:
    parsed = value_or_named_error(
        lambda: parse_duration(text, field=field), errors=(ValidationError,), names=field
    )
    if isinstance(parsed, timedelta):
        assert timedelta(0) <= parsed <= TEN_YEARS
        assert parsed.microseconds == 0


@examples(40)
@given(st.integers(0, int(TEN_YEARS.total_seconds())).map(lambda s: timedelta(seconds=s)))
def test_a_formatted_duration_parses_back_to_itself(delta: timedelta) -> None:
    text = format_duration(delta)
    assert parse_duration(text, field="Upstash-Delay") == delta
    # and so does its bare number of seconds, as curl users send it
    assert parse_duration(str(int(delta.total_seconds())), field="Upstash-Delay") == delta


@examples(60)
@given(
    st.one_of(
        st.integers(-(10**11), 10**11).map(str),
        st.integers(0, int(TEN_YEARS.total_seconds()) * 2).map(
            lambda s: str(int(NOW.timestamp()) + s - int(TEN_YEARS.total_seconds()))
        ),
        st.text(unicode_chars, max_size=12),
        st.sampled_from([" 1893499200 ", "1_893_499_200", "+1893499200", "1e9", "", "9" * 5000]),
    ),
    st.none() | durations,
)
def test_not_before_gives_a_due_time_within_ten_years_or_a_400_naming_it(
    not_before: str, delay: str | None
) -> None:
    headers = {"Upstash-Not-Before": not_before}
    if delay is not None:
        headers["Upstash-Delay"] = delay
    due = value_or_named_error(
        lambda: due_time(Headers(headers), NOW),
        errors=(ValidationError,),
        names="Upstash-Not-Before",
    )
    if isinstance(due, datetime):
        # Not-Before wins over any delay, even an invalid one, and is never in the past.
        assert due.tzinfo is not None
        assert NOW <= due <= NOW + TEN_YEARS
        assert due == max(NOW, datetime.fromtimestamp(int(not_before.strip()), UTC))


@examples(40)
@given(durations)
def test_a_delay_alone_sets_the_due_time_or_is_a_400_naming_it(delay: str) -> None:
    due = value_or_named_error(
        lambda: due_time(Headers({"upstash-delay": delay}), NOW),
        errors=(ValidationError,),
        names="Upstash-Delay",
    )
    if isinstance(due, datetime):
        assert due == NOW + parse_duration(delay, field="Upstash-Delay")


@examples(40)
@given(timeouts_text)
def test_a_timeout_is_1_to_30_seconds_or_a_400_naming_it(timeout: str) -> None:
    message = value_or_named_error(
        lambda: parse_publish(
            destination="https://example.com/t",
            headers={"Upstash-Timeout": timeout},
            body=b"",
            now=NOW,
            limits=LIMITS,
        ),
        errors=(ValidationError,),
        names="Upstash-Timeout",
    )
    if not isinstance(message, DuetimeError):
        assert 1 <= message.timeout_seconds <= timeouts.DELIVERY_TIMEOUT_MAX_SECONDS
        assert message.timeout_seconds == int(
            parse_duration(timeout, field="Upstash-Timeout").total_seconds()
        )


@examples(50)
@given(retries_text, st.sampled_from(["Upstash-Retries", "Upstash-Callback-Retries"]))
# Failed before the fix in publish._retries: str.strip() removes \x1c-\x1f but int() does not
# accept them, so "\x1c3" passed the digit check and int() raised ValueError (a 500).
@example("\x1c3", "Upstash-Retries")
@example("3\x1f", "Upstash-Callback-Retries")
def test_retries_are_0_to_20_or_a_400_naming_the_header(value: str, header: str) -> None:
    message = value_or_named_error(
        lambda: parse_publish(
            destination="https://example.com/r",
            headers={header: value, "Upstash-Callback": "https://example.com/cb"},
            body=b"",
            now=NOW,
            limits=LIMITS,
        ),
        errors=(ValidationError,),
        names=header,
    )
    if not isinstance(message, DuetimeError):
        retries = (
            message.max_retries
            if header == "Upstash-Retries"
            else message.options["callback"]["retries"]
        )
        assert retries == int(value.strip())
        assert 0 <= retries <= MAX_RETRIES
