"""Size limits: publish and flows refuse what is over them, naming it; events keep a bounded
part of each response (tests/contract/test_limits.py shows the largest message fits)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.domain.errors import PayloadTooLargeError, ValidationError
from functions.domain.flows import MAX_DEFINITION_BYTES, parse_flow
from functions.domain.limits import (
    KEPT_ERROR_BYTES,
    KEPT_RESPONSE_BODY_BYTES,
    KEPT_RESPONSE_HEADER_BYTES,
    KEPT_RETRIED_BODY_BYTES,
    MAX_DEDUPLICATION_ID_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_LABEL_BYTES,
    MAX_URL_BYTES,
    kept_body,
    kept_error,
    kept_headers,
)
from functions.domain.publish import PublishLimits, parse_publish

NOW = datetime(2030, 1, 1, tzinfo=UTC)
DEST = "https://example.com/hook"


def publish(headers: dict[str, str], destination: str = DEST) -> None:
    parse_publish(
        destination=destination,
        headers=headers,
        body=b"",
        now=NOW,
        limits=PublishLimits(max_body_bytes=1000),
    )


def test_every_limit_is_accepted_exactly_at_its_size() -> None:
    names = [f"x-{n:02d}" for n in range(MAX_HEADERS)]
    room = (MAX_HEADER_BYTES - sum(len(n) for n in names)) // MAX_HEADERS
    publish(
        {
            **{f"Upstash-Forward-{n}": "v" * room for n in names},
            "Upstash-Label": "l" * MAX_LABEL_BYTES,
            "Upstash-Deduplication-Id": "d" * MAX_DEDUPLICATION_ID_BYTES,
            "Upstash-Callback": DEST + "?" + "c" * (MAX_URL_BYTES - len(DEST) - 1),
        },
        destination=DEST + "?" + "p" * (MAX_URL_BYTES - len(DEST) - 1),
    )


@pytest.mark.parametrize(
    ("headers", "destination", "error"),
    [
        (
            {f"Upstash-Forward-X-{n}": "v" for n in range(MAX_HEADERS + 1)},
            DEST,
            f"Upstash-Forward-* has {MAX_HEADERS + 1} headers; at most {MAX_HEADERS}",
        ),
        (
            {"Upstash-Forward-X": "v" * MAX_HEADER_BYTES},
            DEST,
            f"Upstash-Forward-* headers are {MAX_HEADER_BYTES + 1} bytes (names and values); "
            f"at most {MAX_HEADER_BYTES}",
        ),
        (
            {"Upstash-Callback-Forward-X": "v" * MAX_HEADER_BYTES},
            DEST,
            f"Upstash-Callback-* headers are {MAX_HEADER_BYTES + 1} bytes (names and values); "
            f"at most {MAX_HEADER_BYTES}",
        ),
        (
            {"Upstash-Label": "é" * (MAX_LABEL_BYTES // 2 + 1)},
            DEST,
            f"Upstash-Label is {MAX_LABEL_BYTES + 2} bytes; at most {MAX_LABEL_BYTES}",
        ),
        (
            {"Upstash-Deduplication-Id": "d" * (MAX_DEDUPLICATION_ID_BYTES + 1)},
            DEST,
            f"Upstash-Deduplication-Id is {MAX_DEDUPLICATION_ID_BYTES + 1} bytes; "
            f"at most {MAX_DEDUPLICATION_ID_BYTES}",
        ),
        (
            {"Upstash-Failure-Callback": DEST + "?" + "c" * MAX_URL_BYTES},
            DEST,
            f"Upstash-Failure-Callback is {len(DEST) + 1 + MAX_URL_BYTES} bytes; "
            f"at most {MAX_URL_BYTES}",
        ),
        (
            {},
            DEST + "?" + "p" * MAX_URL_BYTES,
            f"the destination URL is {len(DEST) + 1 + MAX_URL_BYTES} bytes; "
            f"at most {MAX_URL_BYTES}",
        ),
    ],
)
def test_publish_refuses_what_is_over_a_limit_naming_it(
    headers: dict[str, str], destination: str, error: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        publish(headers, destination)
    assert str(raised.value) == error


def test_a_flow_over_its_definition_limit_is_413_naming_it() -> None:
    steps = [
        {"id": f"s{n}", "destination": DEST, "body": "b" * (MAX_DEFINITION_BYTES // 4)}
        for n in range(4)
    ]
    with pytest.raises(PayloadTooLargeError) as raised:
        parse_flow("f1", {"stateToken": "t", "steps": steps}, default_retries=3)
    size = 4 * (len(DEST) + MAX_DEFINITION_BYTES // 4)
    assert str(raised.value) == (
        f"the steps' destinations, headers and bodies are {size} bytes; "
        f"at most {MAX_DEFINITION_BYTES} in one flow"
    )


def test_a_flow_step_with_too_many_headers_is_refused() -> None:
    headers = {f"x-{n}": "v" for n in range(MAX_HEADERS + 1)}
    step = {"id": "s", "destination": DEST, "headers": headers}
    with pytest.raises(ValidationError, match=r"steps\[0\]\.headers has 65 headers; at most 64"):
        parse_flow("f1", {"stateToken": "t", "steps": [step]}, default_retries=3)


def test_kept_bodies_are_clipped_by_bytes_never_mid_character() -> None:
    final = kept_body("é" * 5000, retried=False)
    retried = kept_body("é" * 5000, retried=True)
    assert final == "é" * (KEPT_RESPONSE_BODY_BYTES // 2)
    assert retried == "é" * (KEPT_RETRIED_BODY_BYTES // 2)
    assert kept_body("€" * 2000, retried=False) == "€" * (KEPT_RESPONSE_BODY_BYTES // 3)
    assert kept_body("", retried=False) is None
    assert kept_error("x" * 10_000) == "x" * KEPT_ERROR_BYTES


def test_kept_headers_fit_their_budget_as_json_in_order() -> None:
    headers = {f"x-{n:03d}": "é" * 100 for n in range(50)}
    kept = kept_headers(headers)
    assert kept is not None
    assert len(json.dumps(kept).encode()) <= KEPT_RESPONSE_HEADER_BYTES
    assert list(kept) == [f"x-{n:03d}" for n in range(len(kept))]
    assert kept_headers({"x-1": "a"}) == {"x-1": "a"}
    assert kept_headers({}) is None
