"""Turn a QStash v2 publish request (path, query, headers, body) into a new `Message`.

Pure: no I/O. The API handler passes the raw pieces of the HTTP request in.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus, urlsplit

from functions.domain import flowcontrol, timeouts
from functions.domain.clock import from_unix_seconds, parse_iso
from functions.domain.destinations import check_allowed_host
from functions.domain.durations import parse_duration
from functions.domain.errors import DestinationRefusedError, PayloadTooLargeError, ValidationError
from functions.domain.forwarding import check_forwarded, unwritable
from functions.domain.limits import (
    MAX_DEDUPLICATION_ID_BYTES,
    MAX_LABEL_BYTES,
    MAX_URL_BYTES,
    check_bytes,
    check_headers,
)
from functions.domain.messages import Message, new_message_id
from functions.domain.queues import (
    FLOW_CONTROL_OPTION,
    FLOW_CONTROL_SETTINGS_OPTION,
    QUEUE_OPTION,
    check_queue_name,
)
from functions.domain.redaction import parse_redact_fields
from functions.domain.retry import validate_retry_delay

if TYPE_CHECKING:
    from collections.abc import Mapping

_MAX_HORIZON = timedelta(days=365 * 10)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
MAX_RETRIES = 20
_FORWARD = "upstash-forward-"
# API Gateway or a proxy may merge the `//` after the scheme; put it back rather than refuse.
_COLLAPSED_SCHEME = re.compile(r"^(https?):/(?!/)", re.IGNORECASE)
_ENCODED_SCHEME = re.compile(r"^https?%3A", re.IGNORECASE)


@dataclass(frozen=True)
class PublishLimits:
    max_body_bytes: int
    default_retries: int = 3
    allowed_hosts: tuple[str, ...] = ()


# Option headers of a callback; every other `Upstash-Callback-*` header is forwarded to it (the
# SDKs send callback headers as `Upstash-Callback-<Name>`, curl users `-Forward-<Name>`).
_CALLBACK_OPTIONS = {"retries", "retry-delay", "timeout", "method", "delay"}


class Headers:
    """Case-insensitive, read-only view of request headers."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._items = {k.lower(): v for k, v in raw.items()}

    def get(self, name: str) -> str | None:
        return self._items.get(name.lower())

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """Headers starting with `prefix` (lower-case), the prefix stripped."""
        return {
            k[len(prefix) :]: v
            for k, v in self._items.items()
            if k.startswith(prefix) and k != prefix
        }


def destination_from_path(raw_destination: str, raw_query: str) -> str:
    """Rebuild the destination URL from the raw path tail and the raw query string.

    The SDKs append the destination unencoded (`/v2/publish/https://host/p?x=1`), so its own query
    arrives as the request's query. Slashes are kept exactly as they came.
    """
    destination = raw_destination
    if _ENCODED_SCHEME.match(destination):
        destination = unquote(destination)
    destination = _COLLAPSED_SCHEME.sub(lambda m: f"{m.group(1)}://", destination)
    # The query goes before a fragment: appended after it, it was part of the fragment, which
    # no request sends (`https://h/p#f` and `id=7` gave `https://h/p#f?id=7`).
    destination, hashmark, fragment = destination.partition("#")
    query = "&".join(part for part in raw_query.split("&") if part and not _is_token(part))
    if query:
        destination = f"{destination}{'&' if '?' in destination else '?'}{query}"
    destination += hashmark + fragment
    require_http_url(destination, "destination")
    return destination


def _is_token(query_part: str) -> bool:
    """QStash's `qstash_token` query parameter, however it is spelled (percent-encoded, any
    case): it authenticates the call and must never reach the destination."""
    name = query_part.partition("=")[0]
    return unquote_plus(name).strip().lower() == "qstash_token"


def require_http_url(url: str, field: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unbalanced "[" of an IPv6 host, for one
        raise ValidationError(f"{field} is not a valid URL ({exc}): {url!r}") from exc
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError as exc:
        raise ValidationError(f"{field} has an invalid port: {url!r}") from exc
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValidationError(f"{field} must be an absolute http(s) URL, got {url!r}")


def parse_publish(
    *,
    destination: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    limits: PublishLimits,
    queue: str | None = None,
    to_group: bool = False,
    caller_ip: str | None = None,
) -> Message:
    """Validate a publish request and build the message to store. `queue` is the queue of
    `/v2/enqueue/{queue}/...`; `Upstash-Queue-Name` names one too."""
    h = Headers(headers)
    if limits.allowed_hosts and not to_group:  # a group's endpoints were checked when added
        try:
            check_allowed_host(destination, limits.allowed_hosts)
        except DestinationRefusedError as exc:
            raise ValidationError(str(exc)) from exc
    if len(body) > limits.max_body_bytes:
        raise PayloadTooLargeError(
            f"body is {len(body)} bytes; the limit is {limits.max_body_bytes} bytes"
        )
    method = (h.get("Upstash-Method") or "POST").upper()
    if method not in METHODS:
        raise ValidationError(
            f"Upstash-Method must be one of {', '.join(sorted(METHODS))}, got {method!r}"
        )
    check_bytes(destination, field="the destination URL", limit=MAX_URL_BYTES)
    forward = check_forwarded(h.with_prefix(_FORWARD), field="Upstash-Forward-")
    content_type = h.get("Content-Type")
    if content_type:
        # Checked as forwarded headers are: a Content-Type of " " or with a form feed was
        # stored, and the message failed at once at delivery (tests/property found it).
        problem = unwritable("content-type", content_type)
        if problem:
            raise ValidationError(f"Content-Type {problem}")
        forward["content-type"] = content_type
    check_headers(forward, field="Upstash-Forward-*")
    check_bytes(h.get("Upstash-Label"), field="Upstash-Label", limit=MAX_LABEL_BYTES)
    check_bytes(
        h.get("Upstash-Deduplication-Id"),
        field="Upstash-Deduplication-Id",
        limit=MAX_DEDUPLICATION_ID_BYTES,
    )
    return Message(
        message_id=new_message_id(),
        url=destination,
        method=method,
        headers=forward,
        body=body,
        due_at=due_time(h, now),
        created_at=now,
        max_retries=_retries(h.get("Upstash-Retries"), limits.default_retries),
        retry_delay=h.get("Upstash-Retry-Delay"),
        timeout_seconds=_timeout(h.get("Upstash-Timeout")),
        callback=_optional_url(h.get("Upstash-Callback"), "Upstash-Callback"),
        failure_callback=_optional_url(
            h.get("Upstash-Failure-Callback"), "Upstash-Failure-Callback"
        ),
        label=h.get("Upstash-Label"),
        options={
            **_options(h),
            **_lane_options(h, queue),
            **({"callerIP": caller_ip} if caller_ip else {}),
        },
    )


def _lane_options(h: Headers, queue: str | None) -> dict[str, object]:
    """The queue or flow-control key a message waits in line for, as its options."""
    name = queue or h.get("Upstash-Queue-Name")
    key, value = h.get("Upstash-Flow-Control-Key"), h.get("Upstash-Flow-Control-Value")
    if (key is None) != (value is None):
        raise ValidationError(
            "Upstash-Flow-Control-Key and Upstash-Flow-Control-Value go together: the key "
            "names the limit, the value sets it (parallelism=<n>, rate=<n>, period=<duration>)"
        )
    if name is not None and key is not None:
        raise ValidationError(
            "a message waits either in a queue or under a flow-control key, not both: drop "
            "the queue or the Upstash-Flow-Control-* headers"
        )
    if key is not None and value is not None:
        settings = flowcontrol.parse_value(value)
        return {
            FLOW_CONTROL_OPTION: flowcontrol.check_key(key),
            FLOW_CONTROL_SETTINGS_OPTION: settings.document(),
        }
    if name is None:
        return {}
    check_queue_name(name)
    for timing in ("Upstash-Delay", "Upstash-Not-Before"):
        if h.get(timing) is not None:
            raise ValidationError(
                f"{timing} does not apply to a queued message: a queue delivers in enqueue "
                "order as soon as it has a free slot. Remove the header, or publish without "
                "the queue."
            )
    return {QUEUE_OPTION: name}


_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
MAX_REQUEST_ID_BYTES = 256


def trace_context(h: Headers) -> dict[str, str]:
    """The caller's request id (`X-Request-Id`) and W3C `traceparent`, kept with the message and
    sent on every attempt and callback, so one id follows a request from the publish to the
    delivery. Malformed ones are a 400 naming the header, never silently dropped."""
    found: dict[str, str] = {}
    request_id = h.get("X-Request-Id")
    if request_id is not None:
        check_bytes(request_id, field="X-Request-Id", limit=MAX_REQUEST_ID_BYTES)
        problem = unwritable("x-request-id", request_id)
        if problem or not request_id:
            raise ValidationError(f"X-Request-Id {problem or 'is empty'}")
        found["requestId"] = request_id
    traceparent = h.get("traceparent")
    if traceparent is not None:
        if not _TRACEPARENT.fullmatch(traceparent.strip()):
            raise ValidationError(
                "traceparent must be W3C trace context (version-traceid-parentid-flags, "
                f"lowercase hex), got {traceparent[:100]!r}"
            )
        found["traceparent"] = traceparent.strip()
    return found


def _options(h: Headers) -> dict[str, object]:
    options: dict[str, object] = {**trace_context(h)}
    redact = h.get("Upstash-Redact-Fields")
    if redact is not None:
        options["redact"] = parse_redact_fields(redact).document()
    for name, prefix in (
        ("callback", "upstash-callback-"),
        ("failureCallback", "upstash-failure-callback-"),
    ):
        settings = _callback_settings(h.with_prefix(prefix), prefix)
        if settings:
            options[name] = settings
    return options


def _callback_settings(raw: dict[str, str], prefix: str) -> dict[str, object]:
    """Split `Upstash-Callback-*` headers into the callback's own options and its headers."""
    field = prefix.rstrip("-").title()
    settings: dict[str, object] = {}
    forward: dict[str, str] = {}
    for suffix, value in raw.items():
        if suffix in _CALLBACK_OPTIONS:
            settings[suffix] = value
        else:
            forward[suffix.removeprefix("forward-")] = value
    if "retries" in settings:
        settings["retries"] = _retries(str(settings["retries"]), 3, field=f"{field}-Retries")
    if "timeout" in settings:
        settings["timeout"] = _timeout(str(settings["timeout"]), field=f"{field}-Timeout")
    if "delay" in settings:
        parse_duration(str(settings["delay"]), field=f"{field}-Delay")
    if "retry-delay" in settings:
        validate_retry_delay(str(settings["retry-delay"]), field=f"{field}-Retry-Delay")
    if "method" in settings and str(settings["method"]).upper() not in METHODS:
        raise ValidationError(f"{field}-Method must be one of {', '.join(sorted(METHODS))}")
    if forward:
        settings["headers"] = check_forwarded(forward, field=f"{field}-")
        check_headers(forward, field=f"{field}-*")
    return settings


def dedup_key(h: Headers, message: Message) -> str | None:
    """The deduplication key: `Upstash-Deduplication-Id`, or a digest of the content when
    `Upstash-Content-Based-Deduplication` is true (compared case-insensitively: the Python SDK
    sends `True`)."""
    explicit = h.get("Upstash-Deduplication-Id")
    if explicit:
        return "id:" + explicit.strip()
    content_based = (h.get("Upstash-Content-Based-Deduplication") or "").strip().lower()
    if content_based != "true":
        return None
    digest = hashlib.sha256()
    for part in (message.method, message.url, json.dumps(message.headers, sort_keys=True)):
        digest.update(part.encode() + b"\0")
    digest.update(message.body)
    return "content:" + digest.hexdigest()


def due_time(h: Headers, now: datetime) -> datetime:
    """`Upstash-Not-Before` (unix seconds, or ISO 8601 with `Z` or an offset: a duetime
    extension) wins over `Upstash-Delay`; neither means now. A time already past means now,
    as on QStash."""
    not_before = h.get("Upstash-Not-Before")
    delay = h.get("Upstash-Delay")
    if not_before is not None:
        at = _not_before(not_before.strip())
        if at.timestamp() < 0 or at > now + _MAX_HORIZON:
            raise ValidationError(
                f"Upstash-Not-Before must be a time within 10 years, got {not_before!r}"
            )
        return max(now, at)
    if delay is not None:
        return now + parse_duration(delay, field="Upstash-Delay")
    return now


def _not_before(text: str) -> datetime:
    if re.fullmatch(r"-?[0-9]{1,12}", text):
        return from_unix_seconds(max(int(text), -1))
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.,]+(Z|[+-][0-9:]+)?", text):
        raise ValidationError(
            "Upstash-Not-Before must be unix seconds or an ISO 8601 time with Z or an offset, "
            f"got {text!r}"
        )
    try:
        return parse_iso(text.replace("Z", "+00:00"), field="Upstash-Not-Before")
    except ValidationError as exc:
        # Name the rule, not only the parser's complaint: a naive time is never guessed.
        raise ValidationError(
            f"{exc} (Upstash-Not-Before needs Z or an offset such as +02:00)"
        ) from exc


def _retries(value: str | None, default: int, *, field: str = "Upstash-Retries") -> int:
    if value is None:
        return default
    # int() of the stripped text: str.strip() also removes \x1c-\x1f, which int() refuses
    # (`Upstash-Retries: \x1c3` was a ValueError, a 500, before).
    digits = value.strip()
    if not re.fullmatch(r"[0-9]{1,3}", digits) or int(digits) > MAX_RETRIES:
        raise ValidationError(f"{field} must be an integer 0..{MAX_RETRIES}, got {value!r}")
    return int(digits)


def _timeout(value: str | None, *, field: str = "Upstash-Timeout") -> int:
    limit = timeouts.DELIVERY_TIMEOUT_MAX_SECONDS
    if value is None:
        return timeouts.DEFAULT_DELIVERY_TIMEOUT_SECONDS
    seconds = parse_duration(value, field=field)
    if seconds <= timedelta(0) or seconds > timedelta(seconds=limit):
        raise ValidationError(f"{field} must be between 1s and {limit}s, got {value!r}")
    return int(seconds.total_seconds())


def _optional_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    check_bytes(value, field=field, limit=MAX_URL_BYTES)
    require_http_url(value, field)
    return value
