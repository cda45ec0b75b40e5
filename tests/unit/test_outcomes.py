"""decide(): what one attempt's result means for the message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.messages import EventState, Message, MessageState
from functions.domain.outcomes import NON_RETRYABLE_STATUS, AttemptResult, decide
from functions.domain.retry import default_backoff

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def message(**changes: object) -> Message:
    base = Message(
        message_id="msg_test",
        url="https://example.com/hook",
        method="POST",
        headers={},
        body=b"{}",
        due_at=NOW - timedelta(seconds=1),
        created_at=NOW - timedelta(minutes=1),
        state=MessageState.ACTIVE,
        max_retries=3,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def response(
    status: int | None, headers: dict[str, str] | None = None, body: str = ""
) -> AttemptResult:
    error = None if status is not None and 200 <= status < 300 else f"HTTP {status}"
    return AttemptResult(status, headers or {}, body, error)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    decision = decide(message(retried=1), response(status, body="ok"), now=NOW)
    assert decision.state is MessageState.DELIVERED
    assert decision.retried == 1
    assert decision.next_due is None
    assert decision.event.state is EventState.DELIVERED
    assert decision.event.response_status == status
    assert decision.event.at == NOW


def test_500_with_retries_left_retries_after_the_default_backoff() -> None:
    decision = decide(message(retried=0), response(500, body="boom"), now=NOW)
    assert decision.state is MessageState.RETRY
    assert decision.retried == 1
    assert decision.next_due == NOW + default_backoff(1)
    assert decision.event.state is EventState.ERROR
    assert decision.event.next_delivery_at == decision.next_due
    assert decision.event.response_status == 500
    assert decision.event.response_body == "boom"
    assert decision.event.attempt == 0


@given(retried=st.integers(0, 19), extra=st.integers(1, 5))
def test_each_retry_waits_the_default_backoff_of_that_retry(retried: int, extra: int) -> None:
    decision = decide(message(retried=retried, max_retries=retried + extra), response(503), now=NOW)
    assert decision.state is MessageState.RETRY
    assert decision.retried == retried + 1
    assert decision.next_due == NOW + default_backoff(retried + 1)


def test_retry_delay_expression_sets_the_wait() -> None:
    decision = decide(
        message(retried=2, retry_delay="1000 * (1 + retried)"), response(500), now=NOW
    )
    assert decision.next_due == NOW + timedelta(seconds=3)
    assert decision.retried == 3


def test_retry_after_header_is_honoured_over_the_backoff() -> None:
    decision = decide(
        message(retry_delay="1000"), response(429, headers={"Retry-After": "30"}), now=NOW
    )
    assert decision.state is MessageState.RETRY
    assert decision.next_due == NOW + timedelta(seconds=30)


def test_retry_after_zero_retries_immediately() -> None:
    decision = decide(
        message(retried=3, max_retries=5), response(429, {"Retry-After": "0"}), now=NOW
    )
    assert decision.next_due == NOW


def test_exhausted_retries_fail_with_the_last_response_in_the_event() -> None:
    decision = decide(
        message(retried=3, max_retries=3),
        response(502, headers={"X-Upstream": "down"}, body="bad gateway"),
        now=NOW,
    )
    assert decision.state is MessageState.FAILED
    assert decision.retried == 3
    assert decision.next_due is None
    assert decision.event.state is EventState.FAILED
    assert decision.event.response_status == 502
    assert decision.event.response_body == "bad gateway"
    assert decision.event.response_headers == {"X-Upstream": "down"}
    assert decision.event.error == "HTTP 502"
    assert decision.event.attempt == 3


def test_no_retries_configured_fails_on_the_first_error() -> None:
    decision = decide(message(retried=0, max_retries=0), response(500), now=NOW)
    assert decision.state is MessageState.FAILED


@pytest.mark.parametrize("flag", ["true", "TRUE", " True "])
def test_489_with_non_retryable_header_fails_immediately(flag: str) -> None:
    result = response(NON_RETRYABLE_STATUS, headers={"upstash-nonretryable-error": flag})
    decision = decide(message(retried=0, max_retries=5), result, now=NOW)
    assert NON_RETRYABLE_STATUS == 489
    assert decision.state is MessageState.FAILED
    assert decision.event.state is EventState.FAILED


def test_non_retryable_header_name_is_case_insensitive() -> None:
    result = response(489, headers={"Upstash-NonRetryable-Error": "true"})
    assert decide(message(), result, now=NOW).state is MessageState.FAILED


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (489, {}),
        (489, {"Upstash-NonRetryable-Error": "false"}),
        (500, {"Upstash-NonRetryable-Error": "true"}),
    ],
)
def test_non_retryable_needs_both_489_and_the_header(status: int, headers: dict[str, str]) -> None:
    decision = decide(message(retried=0), response(status, headers=headers), now=NOW)
    assert decision.state is MessageState.RETRY
    assert decision.retried == 1


def test_refused_destination_fails_immediately_with_the_reason() -> None:
    result = AttemptResult(None, {}, "", "destination '127.0.0.1' resolves to 127.0.0.1, refused")
    decision = decide(message(retried=0, max_retries=5), result, now=NOW, refused=True)
    assert decision.state is MessageState.FAILED
    assert decision.event.state is EventState.FAILED
    assert decision.event.error == result.error
    assert decision.event.response_status is None


def test_connection_error_is_retried_and_its_error_recorded() -> None:
    result = AttemptResult(None, {}, "", "ConnectError: connection refused")
    decision = decide(message(retried=0), result, now=NOW)
    assert decision.state is MessageState.RETRY
    assert decision.retried == 1
    assert decision.next_due == NOW + default_backoff(1)
    assert decision.event.error == "ConnectError: connection refused"
    assert decision.event.response_status is None
    assert decision.event.response_body is None
    assert decision.event.response_headers is None
