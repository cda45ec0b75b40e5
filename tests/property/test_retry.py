"""Retry delays: `Upstash-Retry-Delay` expressions (milliseconds over `retried`) and a
receiver's `Retry-After` / `X-RateLimit-Reset`. An expression is accepted or a 400 naming the
header; an accepted one gives a delay within [0, 1 day] at every retry; the work either takes
is bounded, counted in Python calls rather than timed."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain.errors import ValidationError
from functions.domain.publish import MAX_RETRIES
from functions.domain.retry import (
    MAX_BACKOFF,
    MAX_LITERAL,
    MAX_NODES,
    retry_delay,
    server_requested_delay,
    validate_retry_delay,
)
from tests.property.strategies import retry_delays, unicode_chars
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples, value_or_named_error

pytestmark = QUIET_SYNTAX_WARNINGS

# Python-level calls one validation plus 21 evaluations may make. Each accepted expression has
# at most MAX_NODES nodes, each a float operation, so the count is a small multiple of them.
# Big-integer arithmetic (`4000000**4000000` took seconds once) would not show as calls: the
# literal bound the first test checks, and evaluation in floats, are what rule it out.
CALL_BUDGET = 60_000


def _calls(action: Callable[[], Any]) -> int:
    count = 0

    def profile(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal count
        if event in {"call", "c_call"}:
            count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        action()
    except ValidationError:
        pass
    finally:
        sys.setprofile(previous)
    return count


def _validate_and_run(expression: str) -> None:
    validate_retry_delay(expression)
    for retried in range(MAX_RETRIES + 1):
        retry_delay(retried=retried, expression=expression)


@examples(100)
@given(retry_delays, st.sampled_from(["Upstash-Retry-Delay", "steps[1].retryDelay"]))
def test_an_expression_is_accepted_or_a_400_naming_the_field(expression: str, field: str) -> None:
    accepted = value_or_named_error(
        lambda: validate_retry_delay(expression, field=field),
        errors=(ValidationError,),
        names=field,
    )
    if isinstance(accepted, str):
        assert accepted == expression
        tree = ast.parse(expression.strip(), mode="eval")
        assert sum(1 for _ in ast.walk(tree)) <= MAX_NODES + 1  # + the Expression wrapper
        # Only small int/float literals: no big-integer arithmetic can start from them.
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant):
                value = node.value
                assert isinstance(value, int | float)
                assert not isinstance(value, bool)
                assert abs(value) <= MAX_LITERAL


@examples(50)
@given(retry_delays)
@example("9**9**9**9")
@example("4000000**4000000")
@example("+".join(["retried"] * 32))
@example("(" * 40 + "1" + ")" * 40)
def test_an_accepted_expression_gives_a_delay_within_a_day_at_every_retry(
    expression: str,
) -> None:
    try:
        validate_retry_delay(expression)
    except ValidationError:
        return
    for retried in range(MAX_RETRIES + 1):
        delay = retry_delay(retried=retried, expression=expression)
        assert timedelta(0) <= delay <= MAX_BACKOFF


@examples(40)
@given(retry_delays)
@example("9**9**9**9")
@example("4000000**4000000")
@example("pow(retried, 64) * pow(retried, 64)")
@example("-" * 200 + "1")
@example("+".join(["pow(2, retried)"] * 12))
def test_the_work_of_an_expression_is_bounded(expression: str) -> None:
    assert _calls(lambda: _validate_and_run(expression)) <= CALL_BUDGET


NOW = datetime(2030, 1, 1, tzinfo=UTC)
retry_after_values = st.one_of(
    st.integers(-5, 10**12).map(str),
    st.datetimes(
        min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds, given a zone below
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ).map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.sampled_from(["", " ", "soon", "1e3", "9" * 40, "Wed, 21 Oct 2015 07:28:00 GMT", "-1"]),
    st.text(unicode_chars, max_size=30),
)


@examples(60)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "Retry-After": retry_after_values,
            "X-RateLimit-Reset": retry_after_values,
            "retry-after": retry_after_values,
        },
    )
)
def test_a_receivers_retry_after_gives_no_delay_or_one_within_a_day(
    headers: dict[str, str],
) -> None:
    delay = server_requested_delay(headers, NOW)
    assert delay is None or timedelta(0) <= delay <= MAX_BACKOFF
