"""Which destinations duetime may call: the SSRF guard, checked on the resolved address."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from functions.domain.errors import DestinationRefusedError

# Cloud metadata endpoints are link-local or private, but name them so the refusal says why.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
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
