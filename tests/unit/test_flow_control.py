"""Flow-control headers and the pin/unpin queries: values, or a 400 that names the problem."""

from __future__ import annotations

import pytest

from functions.domain.errors import ValidationError
from functions.domain.flowcontrol import (
    FlowControlSettings,
    check_key,
    parse_pin,
    parse_unpin,
    parse_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("parallelism=5", FlowControlSettings(parallelism=5)),
        ("rate=10", FlowControlSettings(rate=10)),
        ("parallelism=2, rate=10, period=1m", FlowControlSettings(2, 10, 60)),
        ("rate=3,period=10s", FlowControlSettings(rate=3, period_seconds=10)),
        ("rate=1, period=7d", FlowControlSettings(rate=1, period_seconds=7 * 86400)),
    ],
)
def test_a_flow_control_value_parses_as_the_sdks_send_it(
    text: str, expected: FlowControlSettings
) -> None:
    assert parse_value(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "comma-separated"),
        ("speed=3", "comma-separated"),
        ("rate=3, rate=4", "at most once"),
        ("parallelism=0", "parallelism must be an integer from 1"),
        ("rate=-1", "rate must be an integer"),
        ("period=10s", "needs parallelism=<n> or rate=<n>"),
        ("parallelism=2, period=10s", "period applies to a rate"),
        ("rate=1, period=8d", "period must be 1s to 7d"),
        ("rate=1, period=soon", "duration"),
    ],
)
def test_a_bad_flow_control_value_is_a_400_naming_the_problem(text: str, named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        parse_value(text)


def test_a_key_is_checked() -> None:
    assert check_key("tenant:42@eu") == "tenant:42@eu"
    with pytest.raises(ValidationError, match="Upstash-Flow-Control-Key"):
        check_key("two words")


def test_pin_and_unpin_queries() -> None:
    assert parse_pin({"parallelism": "3"}) == FlowControlSettings(parallelism=3)
    assert parse_pin({"rate": "5", "period": "60"}) == FlowControlSettings(
        rate=5, period_seconds=60
    )
    assert parse_unpin({"rate": "true"}) == (False, True)
    for bad, named in [
        ({}, "pin needs parallelism or rate"),
        ({"period": "60"}, "pin needs"),
        ({"parallelism": "1", "period": "5"}, "period is pinned with a rate"),
        ({"paralelism": "1"}, "unknown query parameter"),
    ]:
        with pytest.raises(ValidationError, match=named):
            parse_pin(bad)
    with pytest.raises(ValidationError, match="unpin needs"):
        parse_unpin({"rate": "false"})
    with pytest.raises(ValidationError, match="true or false"):
        parse_unpin({"rate": "yes"})
