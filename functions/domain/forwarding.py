"""Which headers a caller may have duetime forward to a destination. Pure.

Refused with a 400 that names them (nothing is stored):
- the headers duetime sets on every delivery itself, so a forwarded copy could impersonate
  them (a forged `Upstash-Signature` sent beside the real one, first);
- the headers that frame an HTTP/1.1 request, which the HTTP client writes from the body and
  the URL (a forwarded `Content-Length` made a receiver wait for bytes that never came);
- values with CR, LF or NUL, which would split the header (or a vertical tab or form feed,
  which HTTP/1.1 cannot carry either), and values that start or end with a space or tab,
  which HTTP does not keep;
- names that are not HTTP tokens (RFC 9110: no spaces, colons, brackets or non-ASCII).
Any other value is sent as its bytes: latin-1 when the value fits it (how HTTP servers hand
non-ASCII bytes on), UTF-8 otherwise.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

SET_BY_DUETIME = frozenset(
    {
        "upstash-signature",
        "upstash-message-id",
        "upstash-retried",
        "upstash-schedule-id",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "idempotency-key",
        "duetime-flow-id",
        "duetime-step-id",
    }
)
FRAMING = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
# \v and \f too: h11 (httpx's HTTP/1.1) refuses them, as it refuses a value with surrounding
# whitespace or a name that is not a token. Publish accepted all of these before and the message
# then failed at once at delivery, "request cannot be built" (tests/property found it).
_SPLITTERS = ("\r", "\n", "\0", "\v", "\f")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OWS = " \t"


def check_forwarded(headers: Mapping[str, str], *, field: str) -> dict[str, str]:
    """The headers, lower-cased, if every one may be forwarded; else a ValidationError that
    names the first that may not (`field` says how the caller spelled them)."""
    checked: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in SET_BY_DUETIME:
            raise ValidationError(
                f"{field}{name} is set by duetime on every delivery and cannot be forwarded"
            )
        if key in FRAMING:
            raise ValidationError(f"{field}{name} frames the HTTP request and cannot be forwarded")
        problem = unwritable(key, value)
        if problem:
            raise ValidationError(f"{field}{name} {problem}")
        checked[key] = value
    return checked


def unwritable(name: str, value: str) -> str | None:
    """Why a header cannot be written on an HTTP/1.1 request, or None when it can."""
    if not _TOKEN.fullmatch(name):
        return "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if any(c in value for c in _SPLITTERS):
        return "holds a line break or NUL"
    if value != value.strip(_OWS):
        return "starts or ends with whitespace"
    return None


def writable(name: str, value: str) -> bool:
    """Whether a header can be written at all (see `unwritable`)."""
    return unwritable(name, value) is None


def header_bytes(value: str) -> bytes:
    """A header value as the bytes to send (see the module docstring)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
