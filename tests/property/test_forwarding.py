"""Forwarded headers (`Upstash-Forward-*`, a callback's, a flow step's): any name and value,
non-ASCII, CR/LF, empty. Accepted headers are exactly those the HTTP client can write; the
rest are a 400 naming the header."""

from __future__ import annotations

from datetime import UTC, datetime

import h11
from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain.errors import DuetimeError, ValidationError
from functions.domain.forwarding import FRAMING, SET_BY_DUETIME, check_forwarded, header_bytes
from functions.domain.publish import PublishLimits, parse_publish
from tests.property.strategies import forwarded_headers, header_names, header_values
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples, value_or_named_error

pytestmark = QUIET_SYNTAX_WARNINGS

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _h11_writes(headers: dict[str, str]) -> bool:
    """Whether h11 (httpx's HTTP/1.1 writer) accepts these headers on a request."""
    try:
        h11.Request(
            method="POST",
            target="/",
            headers=[
                (b"host", b"example.com"),
                *((k.encode("latin-1"), header_bytes(v)) for k, v in headers.items()),
            ],
        )
    except (h11.LocalProtocolError, UnicodeEncodeError):
        return False
    return True


@examples(100)
@given(st.dictionaries(header_names, header_values, max_size=4))
# Each of these was accepted before the fix in forwarding.py, and the message then failed at
# once at delivery ("request cannot be built: Illegal header value"): a vertical tab or form
# feed, surrounding whitespace, and names that are not HTTP tokens.
@example({"X-A": "a\x0bb"})
@example({"X-A": "a\x0cb"})
@example({"X-A": " padded"})
@example({"X-A": "padded\t"})
@example({"a b": "v"})
@example({"é": "v"})
@example({"": "v"})
def test_accepted_headers_are_exactly_those_the_http_client_can_write(
    headers: dict[str, str],
) -> None:
    checked = value_or_named_error(
        lambda: check_forwarded(headers, field="Upstash-Forward-"),
        errors=(ValidationError,),
        names=tuple(f"Upstash-Forward-{name}" for name in headers),
    )
    if isinstance(checked, DuetimeError):
        # Refused for a reason: duetime sets it, it frames the request, or it cannot be written
        assert any(
            n.lower() in SET_BY_DUETIME | FRAMING or not _h11_writes({n: v})
            for n, v in headers.items()
        ), (headers, str(checked))
    else:
        assert checked == {k.lower(): v for k, v in headers.items()}
        assert _h11_writes(checked), checked


@examples(50)
@given(forwarded_headers, st.none() | header_values)
def test_publish_forwards_the_headers_without_their_prefix_or_names_the_one_it_refuses(
    forwarded: dict[str, str], content_type: str | None
) -> None:
    headers = dict(forwarded)
    if content_type is not None:
        headers["Content-Type"] = content_type
    message = value_or_named_error(
        lambda: parse_publish(
            destination="https://example.com/f",
            headers=headers,
            body=b"",
            now=NOW,
            limits=PublishLimits(max_body_bytes=1024),
        ),
        errors=(ValidationError,),
        names=("Upstash-Forward-", "Content-Type"),
    )
    if isinstance(message, DuetimeError):
        return
    expected = {k.lower().removeprefix("upstash-forward-"): v for k, v in forwarded.items()}
    expected = {k: v for k, v in expected.items() if k}
    if content_type:
        expected["content-type"] = content_type
    assert message.headers == expected
    # Everything stored to be forwarded can be written, Content-Type included.
    assert _h11_writes(message.headers), message.headers


@examples(50)
@given(
    st.lists(
        st.sampled_from(["Forward-X-Cb", "X-Plain", "Forward-", "Forward-Content-Length"]),
        min_size=1,
        max_size=3,
        unique=True,
    ).flatmap(lambda names: st.fixed_dictionaries(dict.fromkeys(names, header_values))),
    st.sampled_from(["Upstash-Callback-", "Upstash-Failure-Callback-"]),
)
def test_callback_headers_are_forwarded_writable_or_a_400_naming_them(
    suffixes: dict[str, str], prefix: str
) -> None:
    url_header = prefix.rstrip("-")
    headers = {url_header: "https://example.com/cb"} | {prefix + k: v for k, v in suffixes.items()}
    message = value_or_named_error(
        lambda: parse_publish(
            destination="https://example.com/f",
            headers=headers,
            body=b"",
            now=NOW,
            limits=PublishLimits(max_body_bytes=1024),
        ),
        errors=(ValidationError,),
        names=prefix,
    )
    if isinstance(message, DuetimeError):
        return
    option = "callback" if prefix == "Upstash-Callback-" else "failureCallback"
    forwarded = message.options[option]["headers"]
    assert forwarded == {k.lower().removeprefix("forward-"): v for k, v in suffixes.items()}
    assert _h11_writes(forwarded), forwarded
