"""The sizes duetime accepts and keeps, so that any accepted message fits one storage item.

A DynamoDB item holds at most 400 KB, and a message's item carries its body, its URLs and
headers, and an event per attempt. Publish refuses what is over a limit with a 400 naming it,
and each attempt's event keeps a bounded part of the response, so the largest message
publish accepts can still be recorded through every retry (docs/architecture.md has the sum).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_URL_BYTES = 4096  # the destination and each callback URL
MAX_HEADERS = 64  # headers forwarded to one destination (the message's, or a callback's)
MAX_HEADER_BYTES = 8192  # their names and values together
MAX_DEDUPLICATION_ID_BYTES = 512  # it is a storage key (DynamoDB allows 2,048 bytes)
MAX_LABEL_BYTES = 256

# What one attempt's event keeps of the response (the whole response still decides retries):
# the last attempt's body in full as read (the DLQ shows it), a retried attempt's head.
KEPT_RESPONSE_BODY_BYTES = 4096
KEPT_RETRIED_BODY_BYTES = 1024
KEPT_RESPONSE_HEADER_BYTES = 1024  # as JSON
KEPT_ERROR_BYTES = 512


def check_bytes(value: str | None, *, field: str, limit: int) -> None:
    if value is not None and len(value.encode()) > limit:
        raise ValidationError(f"{field} is {len(value.encode())} bytes; at most {limit}")


def headers_size(headers: Mapping[str, str]) -> int:
    """Their names and values together, in UTF-8 bytes."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in headers.items())


def check_headers(headers: Mapping[str, str], *, field: str) -> None:
    """At most MAX_HEADERS headers of at most MAX_HEADER_BYTES together."""
    if len(headers) > MAX_HEADERS:
        raise ValidationError(f"{field} has {len(headers)} headers; at most {MAX_HEADERS}")
    size = headers_size(headers)
    if size > MAX_HEADER_BYTES:
        raise ValidationError(
            f"{field} headers are {size} bytes (names and values); at most {MAX_HEADER_BYTES}"
        )


def _clip(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-8 bytes (never half a character)."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")


def kept_body(body: str | None, *, retried: bool) -> str | None:
    limit = KEPT_RETRIED_BODY_BYTES if retried else KEPT_RESPONSE_BODY_BYTES
    return _clip(body, limit) if body else None


def kept_error(error: str | None) -> str | None:
    return _clip(error, KEPT_ERROR_BYTES) if error else None


def kept_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """The response headers, in order, while they fit KEPT_RESPONSE_HEADER_BYTES as JSON
    (each name clipped to 128 bytes and each value to 256 first)."""
    kept: dict[str, str] = {}
    for name, value in (headers or {}).items():
        candidate = {**kept, _clip(name, 128): _clip(value, 256)}
        if len(json.dumps(candidate).encode()) > KEPT_RESPONSE_HEADER_BYTES:
            break
        kept = candidate
    return kept or None
