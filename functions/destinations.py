"""Which destinations duetime may call: the SSRF guard, checked on the resolved address."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from functions.errors import DestinationRefusedError

# Cloud metadata endpoints are link-local or private, but name them so the refusal says why.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if not address.is_global or address.is_multicast:
        # is_global also excludes shared (100.64/10), documentation and benchmark ranges.
        return "a private or reserved address"
    return None


def check_allowed_host(url: str, allowed_hosts: tuple[str, ...]) -> None:
    """With an allow-list configured, refuse any other host."""
    host = (urlsplit(url).hostname or "").lower()
    if allowed_hosts and host not in allowed_hosts:
        raise DestinationRefusedError(f"destination host {host!r} is not in the allowed hosts")


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
        reason = _refusal(address)
        if reason:
            raise DestinationRefusedError(
                f"destination {host!r} resolves to {address}, {reason}; refused outside dev mode"
            )
