"""Which headers a caller may have duetime forward to a destination. Pure.

Refused with a 400 that names them (nothing is stored):
- the headers duetime sets on every delivery itself, so a forwarded copy could impersonate
  them (a forged `Upstash-Signature` sent beside the real one, first);
- the headers that frame an HTTP/1.1 request, which the HTTP client writes from the body and
  the URL (a forwarded `Content-Length` made a receiver wait for bytes that never came);
- values with CR, LF or NUL, which would split the header.
Any other value is sent as its bytes: latin-1 when the value fits it (how HTTP servers hand
non-ASCII bytes on), UTF-8 otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from functions.domain.errors import ValidationError

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
_SPLITTERS = ("\r", "\n", "\0")


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
        if not writable(key, value):
            raise ValidationError(f"{field}{name} holds a line break or NUL")
        checked[key] = value
    return checked


def writable(name: str, value: str) -> bool:
    """Whether a header can be written at all: no CR, LF or NUL, and no colon in the name."""
    return not any(c in value for c in _SPLITTERS) and not any(
        c in name for c in (*_SPLITTERS, ":")
    )


def header_bytes(value: str) -> bytes:
    """A header value as the bytes to send (see the module docstring)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
