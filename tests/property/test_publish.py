"""A whole publish request (every Upstash-* header at once, valid or not, and a body): a message,
or a 400/413 naming a header it was given; an accepted message is what the headers said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from functions.domain import timeouts
from functions.domain.errors import DuetimeError, PayloadTooLargeError, ValidationError
from functions.domain.limits import MAX_DEDUPLICATION_ID_BYTES, MAX_LABEL_BYTES, MAX_URL_BYTES
from functions.domain.messages import Message, MessageState
from functions.domain.publish import (
    MAX_RETRIES,
    METHODS,
    Headers,
    PublishLimits,
    dedup_key,
    parse_publish,
)
from functions.domain.retry import validate_retry_delay
from tests.property.strategies import forwarded_headers, good_urls, publish_header_options
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples, value_or_named_error

pytestmark = QUIET_SYNTAX_WARNINGS

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LIMITS = PublishLimits(max_body_bytes=2048, default_retries=3)

requests = st.tuples(
    good_urls,
    publish_header_options(not_before_base=int(NOW.timestamp())),
    forwarded_headers,
    st.binary(max_size=64) | st.integers(2040, 2060).map(lambda n: b"b" * n),
)


def accept(destination: str, headers: dict[str, str], body: bytes) -> Message:
    """What MessageService.publish checks before it stores anything."""
    message = parse_publish(
        destination=destination, headers=headers, body=body, now=NOW, limits=LIMITS
    )
    if message.retry_delay is not None:
        validate_retry_delay(message.retry_delay)
    return message


@examples(80)
@given(requests)
def test_a_publish_is_a_message_or_a_4xx_naming_a_header_it_was_given(
    request: tuple[str, dict[str, str], dict[str, str], bytes],
) -> None:
    destination, options, forwarded, body = request
    headers = {**options, **forwarded}
    outcome = value_or_named_error(
        lambda: accept(destination, headers, body),
        errors=(ValidationError, PayloadTooLargeError),
        # A forwarded header's error names it with its prefix ("Upstash-Forward-x-a ..."); a
        # callback option's with the callback's ("Upstash-Callback-Retries ..."); size errors
        # the body.
        names=(
            *headers,
            "Upstash-Forward-",
            "Upstash-Callback",
            "Upstash-Failure-Callback",
            "body is",
        ),
    )
    if isinstance(outcome, PayloadTooLargeError):
        assert len(body) > LIMITS.max_body_bytes
        return
    if isinstance(outcome, DuetimeError):
        return
    message = outcome
    h = Headers(headers)
    assert message.state is MessageState.CREATED
    assert message.url == destination
    assert message.body == body
    assert message.method in METHODS
    assert message.method == (h.get("Upstash-Method") or "POST").upper()
    assert 0 <= message.max_retries <= MAX_RETRIES
    assert 1 <= message.timeout_seconds <= timeouts.DELIVERY_TIMEOUT_MAX_SECONDS
    assert NOW <= message.due_at <= NOW + timedelta(days=3650)
    assert message.label == h.get("Upstash-Label")
    assert message.callback == h.get("Upstash-Callback")
    assert message.failure_callback == h.get("Upstash-Failure-Callback")


@examples(30)
@given(requests, st.sampled_from(["true", "True", " TRUE ", "false", ""]))
def test_a_dedup_key_is_the_id_or_a_digest_of_exactly_the_content(
    request: tuple[str, dict[str, str], dict[str, str], bytes], content_based: str
) -> None:
    destination, options, forwarded, body = request
    headers = {**options, **forwarded, "Upstash-Content-Based-Deduplication": content_based}
    try:
        message = accept(destination, headers, body)
    except (ValidationError, PayloadTooLargeError):
        return
    h = Headers(headers)
    key = dedup_key(h, message)
    explicit = h.get("Upstash-Deduplication-Id")
    if explicit:
        assert key == "id:" + explicit.strip()
    elif content_based.strip().lower() == "true":
        assert key is not None
        assert key.startswith("content:")
        # the same content, published again, has the same key; another body another key
        again = accept(destination, headers, body)
        assert dedup_key(h, again) == key
        other = accept(destination, headers, body + b"!") if len(body) < 2048 else None
        assert other is None or dedup_key(h, other) != key
    else:
        assert key is None


LIMITED = {
    "Upstash-Label": MAX_LABEL_BYTES,
    "Upstash-Deduplication-Id": MAX_DEDUPLICATION_ID_BYTES,
    "Upstash-Callback": MAX_URL_BYTES,
}


@examples(50)
@given(
    st.sampled_from(sorted(LIMITED)),
    st.sampled_from(["a", "é", "日", "😀"]),
    st.integers(-8, 8),
)
def test_labels_dedup_ids_and_urls_are_kept_up_to_their_byte_limit_and_refused_beyond(
    header: str, unit: str, offset: int
) -> None:
    # A value around the limit, in characters of 1 to 4 UTF-8 bytes
    limit = LIMITED[header]
    prefix = "https://example.com/" if header == "Upstash-Callback" else ""
    count = max(0, (limit - len(prefix)) // len(unit.encode()) + offset)
    value = prefix + unit * count
    message = value_or_named_error(
        lambda: accept("https://example.com/l", {header: value}, b""),
        errors=(ValidationError,),
        names=header,
    )
    size = len(value.encode())
    if isinstance(message, DuetimeError):
        assert size > limit
        assert f"{size} bytes" in str(message)
    else:
        assert size <= limit
        kept = {
            "Upstash-Label": message.label,
            "Upstash-Deduplication-Id": dedup_key(Headers({header: value}), message),
            "Upstash-Callback": message.callback,
        }[header]
        assert kept in {value, "id:" + value.strip()}
