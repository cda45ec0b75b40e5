"""Publish parsing: the destination from the raw path and the message from the headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain import timeouts
from functions.domain.errors import PayloadTooLargeError, ValidationError
from functions.domain.messages import Message, MessageState
from functions.domain.publish import (
    MAX_RETRIES,
    PublishLimits,
    destination_from_path,
    parse_publish,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
LIMITS = PublishLimits(max_body_bytes=1024, default_retries=3)
DEST = "https://example.com/hook"
TIMEOUT_MAX = timeouts.DELIVERY_TIMEOUT_MAX_SECONDS


def publish(headers: dict[str, str] | None = None, body: bytes = b"{}") -> Message:
    return parse_publish(destination=DEST, headers=headers or {}, body=body, now=NOW, limits=LIMITS)


# --- destination_from_path -------------------------------------------------------------------


def test_destination_keeps_double_slashes_inside_the_path() -> None:
    assert destination_from_path("https://example.com//a//b/", "") == "https://example.com//a//b/"


def test_destination_appends_the_raw_query_unchanged() -> None:
    # Given the SDK's query arriving as the request's raw query (still percent-encoded)
    url = destination_from_path("https://example.com/p", "x=1&y=a%20b&z=")
    # Then it is appended byte for byte
    assert url == "https://example.com/p?x=1&y=a%20b&z="


def test_destination_drops_the_qstash_token_query_parameter() -> None:
    url = destination_from_path("https://example.com/p", "a=1&qstash_token=secret&b=2")
    assert url == "https://example.com/p?a=1&b=2"
    assert "secret" not in url


def test_destination_without_query_gets_no_question_mark() -> None:
    assert destination_from_path("https://example.com/p", "qstash_token=secret") == (
        "https://example.com/p"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https:/example.com/p", "https://example.com/p"),
        ("http:/example.com", "http://example.com"),
        ("HTTPS:/example.com/p", "HTTPS://example.com/p"),
    ],
)
def test_destination_repairs_a_collapsed_scheme_separator(raw: str, expected: str) -> None:
    assert destination_from_path(raw, "") == expected


def test_destination_decodes_a_percent_encoded_url() -> None:
    url = destination_from_path("https%3A%2F%2Fexample.com%2Fa%2Fb", "x=1")
    assert url == "https://example.com/a/b?x=1"


def test_destination_keeps_percent_escapes_inside_an_unencoded_url() -> None:
    assert destination_from_path("https://example.com/a%2Fb", "") == "https://example.com/a%2Fb"


def test_encoded_destination_with_its_own_query_merges_the_request_query() -> None:
    url = destination_from_path("https%3A%2F%2Fexample.com%2Fp%3Fa%3D1", "b=2")
    assert url == "https://example.com/p?a=1&b=2"


@pytest.mark.parametrize(
    "raw", ["ftp://example.com/file", "example.com/p", "not a url", "", "https://", "mailto:a@b.c"]
)
def test_destination_rejects_anything_but_an_absolute_http_url(raw: str) -> None:
    with pytest.raises(ValidationError, match=r"http\(s\) URL") as err:
        destination_from_path(raw, "")
    assert repr(raw) in str(err.value)


def test_destination_with_an_invalid_port_is_rejected() -> None:
    with pytest.raises(ValidationError, match="invalid port"):
        destination_from_path("https://example.com:99999/p", "")


# --- parse_publish ---------------------------------------------------------------------------


def test_defaults_without_upstash_headers() -> None:
    # Given a bare publish, then it is a POST due now with the default retries and timeout.
    message = publish(body=b"hello")
    assert message.url == DEST
    assert message.method == "POST"
    assert message.body == b"hello"
    assert message.due_at == NOW
    assert message.created_at == NOW
    assert message.state is MessageState.CREATED
    assert message.max_retries == LIMITS.default_retries
    assert message.timeout_seconds == timeouts.DEFAULT_DELIVERY_TIMEOUT_SECONDS
    assert message.headers == {}
    assert message.callback is None
    assert message.failure_callback is None
    assert message.retry_delay is None
    assert message.message_id.startswith("msg_")


def test_each_publish_gets_a_new_message_id() -> None:
    assert publish().message_id != publish().message_id


@pytest.mark.parametrize(("given", "expected"), [("put", "PUT"), ("Delete", "DELETE")])
def test_method_is_upper_cased(given: str, expected: str) -> None:
    assert publish({"Upstash-Method": given}).method == expected


def test_empty_method_header_means_post() -> None:
    assert publish({"Upstash-Method": ""}).method == "POST"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FETCH"])
def test_unknown_method_is_rejected(method: str) -> None:
    with pytest.raises(ValidationError, match="Upstash-Method must be one of"):
        publish({"Upstash-Method": method})


def test_forward_headers_are_stripped_of_their_prefix_and_lower_cased() -> None:
    message = publish(
        {
            "Upstash-Forward-Authorization": "Bearer abc",
            "UPSTASH-FORWARD-X-Custom": "1",
            "Upstash-Delay": "10s",
            "X-Not-Forwarded": "no",
        }
    )
    assert message.headers == {"authorization": "Bearer abc", "x-custom": "1"}


def test_content_type_is_kept_for_the_destination() -> None:
    message = publish({"Content-Type": "application/json"})
    assert message.headers == {"content-type": "application/json"}
    assert message.content_type == "application/json"


def test_not_before_wins_over_delay() -> None:
    later = NOW + timedelta(hours=1)
    message = publish({"Upstash-Not-Before": str(int(later.timestamp())), "Upstash-Delay": "10s"})
    assert message.due_at == later


def test_not_before_in_the_past_means_now() -> None:
    past = NOW - timedelta(days=1)
    assert publish({"Upstash-Not-Before": str(int(past.timestamp()))}).due_at == NOW


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tomorrow", "must be unix seconds"),
        ("1.5", "must be unix seconds"),
        ("-1", "must be a time within 10 years"),
        ("2031-01-06T09:00:00", "needs Z or an offset"),
        ("2031-01-06", "must be unix seconds or an ISO 8601 time"),
        ("2031-13-06T09:00:00Z", "is not an ISO 8601 time"),
        ("2999-01-01T00:00:00Z", "must be a time within 10 years"),
    ],
)
def test_invalid_not_before_is_rejected(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=f"Upstash-Not-Before {message}"):
        publish({"Upstash-Not-Before": value})


@pytest.mark.parametrize(
    "value", [f"{NOW.year + 1}-06-01T12:00:00Z", f"{NOW.year + 1}-06-01T14:00:00+02:00"]
)
def test_not_before_takes_iso_8601_with_z_or_an_offset(value: str) -> None:
    # A duetime extension: both spell the same instant, read as UTC inside
    due = publish({"Upstash-Not-Before": value}).due_at
    assert due == datetime(NOW.year + 1, 6, 1, 12, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)


def test_flow_control_headers_put_the_message_under_that_key() -> None:
    message = publish(
        {
            "Upstash-Flow-Control-Key": "tenant-a",
            "Upstash-Flow-Control-Value": "parallelism=2, rate=5, period=10s",
        }
    )
    assert message.options["flowControlKey"] == "tenant-a"
    assert message.options["flowControl"] == {"parallelism": 2, "rate": 5, "period": 10}


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Upstash-Flow-Control-Key": "k"}, "go together"),
        ({"Upstash-Flow-Control-Value": "rate=1"}, "go together"),
        (
            {
                "Upstash-Flow-Control-Key": "k",
                "Upstash-Flow-Control-Value": "rate=1",
                "Upstash-Queue-Name": "q",
            },
            "not both",
        ),
        ({"Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "fast"}, "Value"),
    ],
)
def test_flow_control_headers_out_of_place_are_refused(headers: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        publish(headers)


def test_upstash_queue_name_puts_the_message_in_that_queue() -> None:
    assert publish({"Upstash-Queue-Name": "orders"}).options["queueName"] == "orders"
    assert "queueName" not in publish({}).options


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Upstash-Queue-Name": "two words"}, "queue name"),
        ({"Upstash-Queue-Name": "orders", "Upstash-Delay": "10s"}, "Upstash-Delay"),
        ({"Upstash-Queue-Name": "orders", "Upstash-Not-Before": "2000000000"}, "Not-Before"),
    ],
)
def test_a_bad_queue_or_a_delay_on_a_queued_message_is_refused(
    headers: dict[str, str], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        publish(headers)


def test_not_before_beyond_the_representable_range_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="Upstash-Not-Before"):
        publish({"Upstash-Not-Before": "1000000000000"})


def test_delay_moves_the_due_time() -> None:
    message = publish({"Upstash-Delay": "1d10h30m"})
    assert message.due_at == NOW + timedelta(days=1, hours=10, minutes=30)


def test_invalid_delay_is_rejected_naming_the_header() -> None:
    with pytest.raises(ValidationError, match="Upstash-Delay must be a duration"):
        publish({"Upstash-Delay": "soon"})


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("5", 5), (" 7 ", 7), ("20", 20)])
def test_retries_within_bounds_are_kept(value: str, expected: int) -> None:
    assert publish({"Upstash-Retries": value}).max_retries == expected


@pytest.mark.parametrize("value", [str(MAX_RETRIES + 1), "-1", "three", "1.5", ""])
def test_retries_out_of_bounds_are_rejected(value: str) -> None:
    with pytest.raises(
        ValidationError, match=rf"Upstash-Retries must be an integer 0..{MAX_RETRIES}"
    ):
        publish({"Upstash-Retries": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1s", 1), ("10", 10), ("90s", 90), ("14m45s", 885), (f"{TIMEOUT_MAX}s", TIMEOUT_MAX)],
)
def test_timeout_within_bounds_is_kept_in_seconds(value: str, expected: int) -> None:
    assert publish({"Upstash-Timeout": value}).timeout_seconds == expected


@pytest.mark.parametrize("value", ["0s", "0", f"{TIMEOUT_MAX + 1}s", "15m", "1h"])
def test_timeout_out_of_bounds_is_rejected(value: str) -> None:
    with pytest.raises(
        ValidationError, match=f"Upstash-Timeout must be between 1s and {TIMEOUT_MAX}s"
    ):
        publish({"Upstash-Timeout": value})


def test_timeout_that_is_not_a_duration_is_rejected_naming_the_header() -> None:
    with pytest.raises(ValidationError, match="Upstash-Timeout must be a duration"):
        publish({"Upstash-Timeout": "fast"})


def test_body_at_the_limit_is_accepted() -> None:
    body = b"x" * LIMITS.max_body_bytes
    assert publish(body=body).body == body


def test_body_over_the_limit_is_too_large_and_names_the_limit() -> None:
    with pytest.raises(PayloadTooLargeError, match="the limit is 1024 bytes") as err:
        publish(body=b"x" * (LIMITS.max_body_bytes + 1))
    assert "1025 bytes" in str(err.value)


@pytest.mark.parametrize("header", ["Upstash-Callback", "Upstash-Failure-Callback"])
def test_callback_urls_are_kept(header: str) -> None:
    message = publish({header: "https://cb.example.com/done?x=1"})
    kept = message.callback if header == "Upstash-Callback" else message.failure_callback
    assert kept == "https://cb.example.com/done?x=1"


@pytest.mark.parametrize("header", ["Upstash-Callback", "Upstash-Failure-Callback"])
@pytest.mark.parametrize("value", ["ftp://cb.example.com/", "cb.example.com/done", ""])
def test_callback_urls_must_be_absolute_http(header: str, value: str) -> None:
    with pytest.raises(ValidationError, match=rf"{header} must be an absolute http\(s\) URL"):
        publish({header: value})


def test_label_and_retry_delay_are_carried_through() -> None:
    message = publish({"Upstash-Label": "billing", "Upstash-Retry-Delay": "1000 * retried"})
    assert message.label == "billing"
    assert message.retry_delay == "1000 * retried"


def _random_case(name: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips, strict=False))


@given(
    flips=st.lists(st.booleans(), min_size=30, max_size=30),
    method=st.sampled_from(["get", "put", "patch", "delete", "head", "post"]),
)
def test_header_names_are_case_insensitive(flips: list[bool], method: str) -> None:
    # Given Upstash headers spelled in any mix of cases
    headers = {
        _random_case("Upstash-Method", flips): method,
        _random_case("Upstash-Delay", flips[5:]): "90s",
        _random_case("Upstash-Retries", flips[10:]): "7",
        _random_case("Upstash-Forward-X-Trace", flips[3:]): "t-1",
    }
    # When parsed
    message = publish(headers)
    # Then each is honoured as if spelled canonically
    assert message.method == method.upper()
    assert message.due_at == NOW + timedelta(seconds=90)
    assert message.max_retries == 7
    assert message.headers == {"x-trace": "t-1"}
