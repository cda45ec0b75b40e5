"""One HTTP attempt with httpx, reduced to what the log keeps."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from functions.domain.destinations import check_allowed_host, refusal
from functions.domain.errors import DestinationRefusedError
from functions.domain.forwarding import header_bytes, writable
from functions.domain.outcomes import AttemptResult

# Responses are kept for the event log and DLQ; DynamoDB items are capped at 400 KB.
RESPONSE_BODY_LIMIT = 4096
USER_AGENT = "duetime/0.1 (+QStash-compatible)"


def send(
    transport: httpx.BaseTransport,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    timeout_seconds: float,
) -> AttemptResult:
    """Send once; a timeout or connection error is a result, not an exception.

    Straight to httpx's transport, below the Client: a delivery service must not keep a
    cookie jar across deliveries, never follows redirects, and reads no more of the answer
    than the log keeps."""
    unwritable = [name for name, value in headers.items() if not writable(name, value)]
    if unwritable:
        # Stored before publish checked this; no retry can send it, so it fails at once.
        why = f"request cannot be built: header {unwritable[0]!r} holds a line break or NUL"
        return AttemptResult(None, {}, "", why, sendable=False)
    try:
        request = httpx.Request(
            method,
            url,
            headers=[
                (k.encode("latin-1"), header_bytes(v))
                for k, v in {"user-agent": USER_AGENT, **headers}.items()
            ],
            content=body if method not in {"GET", "HEAD"} or body else None,
            extensions={"timeout": httpx.Timeout(timeout_seconds).as_dict()},
        )
    except (ValueError, TypeError) as exc:
        # Stored before today's checks at publish; never sendable, so failed, not retried.
        return AttemptResult(None, {}, "", f"request cannot be built: {exc}", sendable=False)
    try:
        response = transport.handle_request(request)
        try:
            kept = _head_of_body(response)
        finally:
            response.close()
    except httpx.TimeoutException:
        return AttemptResult(None, {}, "", f"timed out after {timeout_seconds:g}s")
    except httpx.LocalProtocolError as exc:
        # Our own request is malformed (a header h11 will not write): no retry can send it.
        return AttemptResult(None, {}, "", f"request cannot be built: {exc}", sendable=False)
    except httpx.HTTPError as exc:
        return AttemptResult(None, {}, "", f"{type(exc).__name__}: {exc}")
    text = kept.decode("utf-8", errors="replace")
    error = None if response.is_success else f"HTTP {response.status_code}"
    return AttemptResult(response.status_code, dict(response.headers), text, error)


def _head_of_body(response: httpx.Response) -> bytes:
    kept = bytearray()
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) >= RESPONSE_BODY_LIMIT:
            break  # the rest is never read: a huge answer costs no memory
    return bytes(kept[:RESPONSE_BODY_LIMIT])


def check_destination(
    url: str, *, allow_private: bool, allowed_hosts: tuple[str, ...] = ()
) -> None:
    """Refuse `url` if its host is not allowed or resolves to an internal address (outside
    dev mode)."""
    check_allowed_host(url, allowed_hosts)
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise DestinationRefusedError(f"destination {url!r} has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DestinationRefusedError(f"destination host {host!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        reason = refusal(address)
        if reason:
            raise DestinationRefusedError(
                f"destination {host!r} resolves to {address}, {reason}; refused outside dev mode"
            )


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt: the result, and whether the destination was refused unsent."""

    result: AttemptResult
    refused: bool = False


def attempt(
    transport: httpx.BaseTransport,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    timeout_seconds: float,
    allow_private: bool,
    allowed_hosts: tuple[str, ...],
) -> Attempt:
    """Check the destination, then send once: what messages and flow steps both do."""
    try:
        check_destination(url, allow_private=allow_private, allowed_hosts=allowed_hosts)
    except DestinationRefusedError as exc:
        return Attempt(AttemptResult(None, {}, "", str(exc)), refused=True)
    sent = send(
        transport,
        method=method,
        url=url,
        headers=headers,
        body=body,
        timeout_seconds=timeout_seconds,
    )
    return Attempt(sent, refused=not sent.sendable)
