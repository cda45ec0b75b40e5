"""One HTTP attempt with httpx, reduced to what the log keeps."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from functions.domain.destinations import IPAddress, check_allowed_host, refusal
from functions.domain.errors import DestinationRefusedError
from functions.domain.forwarding import header_bytes, unwritable
from functions.domain.outcomes import AttemptResult

if TYPE_CHECKING:
    import httpx

    from functions.services.transport import Transport

# Responses are kept for the event log and DLQ; DynamoDB items are capped at 400 KB.
RESPONSE_BODY_LIMIT = 4096
USER_AGENT = "duetime/0.1 (+QStash-compatible)"


def send(
    transport: Transport,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    timeout_seconds: float,
    connect_to: IPAddress | None = None,
) -> AttemptResult:
    """Send once; a timeout or connection error is a result, not an exception.

    Straight to httpx's transport, below the Client: a delivery service must not keep a
    cookie jar across deliveries, never follows redirects, and reads no more of the answer
    than the log keeps.

    With `connect_to`, the connection goes to that address (the one the SSRF guard checked)
    instead of a second resolution of the URL's host, which DNS rebinding could point
    elsewhere; the Host header, TLS SNI and the certificate check keep the URL's host."""
    import httpx  # noqa: PLC0415 - at the first send, not at import (services/transport.py)

    problems = [(name, unwritable(name, value)) for name, value in headers.items()]
    refused = [(name, problem) for name, problem in problems if problem]
    if refused:
        # Stored before publish checked this; no retry can send it, so it fails at once.
        name, problem = refused[0]
        why = f"request cannot be built: header {name!r} {problem}"
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
        if connect_to is not None:
            _pin(request, connect_to)
    except (ValueError, TypeError, httpx.InvalidURL) as exc:
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


def _pin(request: httpx.Request, address: IPAddress) -> None:
    """Point `request` at `address`; its Host header was set from the URL already."""
    hostname = request.url.raw_host.decode("ascii")
    if hostname == str(address):
        return  # an IP literal: nothing to resolve, nothing to pin
    request.url = request.url.copy_with(host=str(address))
    if request.url.scheme == "https":
        request.extensions["sni_hostname"] = hostname
        # httpcore pools connections by scheme, host and port, now the address: a kept TLS
        # connection, verified for another name on the same address, would be reused for
        # this one. Closing it after the answer keeps every certificate check per name.
        request.headers["connection"] = "close"


def _head_of_body(response: httpx.Response) -> bytes:
    kept = bytearray()
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) >= RESPONSE_BODY_LIMIT:
            break  # the rest is never read: a huge answer costs no memory
    return bytes(kept[:RESPONSE_BODY_LIMIT])


class DestinationUnresolvedError(Exception):
    """The destination's host did not resolve this time: retried like a connection error."""


def check_destination(
    url: str, *, allow_private: bool, allowed_hosts: tuple[str, ...] = ()
) -> IPAddress | None:
    """Refuse `url` if its host is not allowed or resolves to an internal address (outside
    dev mode); else the checked address to connect to (None in dev mode, which resolves
    nothing). DestinationUnresolvedError when the host does not resolve."""
    check_allowed_host(url, allowed_hosts)
    if allow_private:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise DestinationRefusedError(f"destination {url!r} has no host")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise DestinationRefusedError(f"destination {url!r} has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        # Python encodes the name with IDNA first: a name it cannot encode never resolves.
        raise DestinationRefusedError(f"destination host {host!r} is not a valid name") from exc
    except OSError as exc:
        # Every resolution failure is retried, EAI_NONAME too: a temporary failure (EAI_AGAIN,
        # a resolver timeout) cannot always be told from a missing name, a name may appear
        # later, and QStash retries a destination that does not resolve like one that is down.
        raise DestinationUnresolvedError(
            f"destination host {host!r} does not resolve: {exc}"
        ) from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise DestinationRefusedError(
                f"destination {host!r} resolves to {address}, {reason}; refused outside dev mode"
            )
    if not addresses:
        raise DestinationUnresolvedError(f"destination host {host!r} resolves to no address")
    return addresses[0]


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt: the result, and whether the destination was refused unsent."""

    result: AttemptResult
    refused: bool = False


def attempt(
    transport: Transport,
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
        address = check_destination(url, allow_private=allow_private, allowed_hosts=allowed_hosts)
    except DestinationRefusedError as exc:
        return Attempt(AttemptResult(None, {}, "", str(exc)), refused=True)
    except DestinationUnresolvedError as exc:
        return Attempt(AttemptResult(None, {}, "", str(exc)))
    sent = send(
        transport,
        method=method,
        url=url,
        headers=headers,
        body=body,
        timeout_seconds=timeout_seconds,
        connect_to=address,
    )
    return Attempt(sent, refused=not sent.sendable)
