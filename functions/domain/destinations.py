"""Which destinations duetime may call: the SSRF guard, checked on the resolved address."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from functions.domain.errors import DestinationRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints are link-local or private, but name them so the refusal says why.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

# IPv6 forms that carry an IPv4 address a host or router may deliver to: an internal IPv4
# address must not get through dressed as IPv6 (Python 3.11 calls several of them global).
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")  # RFC 4291
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291, deprecated; :: and ::1 excluded
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
# RFC 8215 local-use NAT64: the operator picks a prefix length inside it, so the IPv4
# address may sit at any of RFC 6052's positions. Refused whole: it is not globally routed.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


_LOW32_FORMS = (
    (_MAPPED, "an IPv4-mapped address"),
    (_TRANSLATED, "an IPv4-translated address"),
    (_NAT64, "a NAT64 address"),
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses `address` carries, each with the name of its form."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for network, form in _LOW32_FORMS:
        if address in network:
            return [(form, low32)]
    if address in _COMPATIBLE and int(address) > 1:
        return [("an IPv4-compatible address", low32)]
    if address.sixtofour is not None:
        return [("a 6to4 address", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo  # the client address is de-obfuscated already
        return [("a Teredo address", server), ("a Teredo address", client)]
    return []


def refusal(address: IPAddress) -> str | None:
    """Why duetime must not call `address` outside dev mode, or None when it may."""
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    reason = _ipv6_refusal(address) if isinstance(address, ipaddress.IPv6Address) else None
    if reason:
        return reason
    if address.is_link_local:
        return "a link-local address"
    if not address.is_global or address.is_multicast:
        # is_global also excludes shared (100.64/10), documentation and benchmark ranges.
        return "a private or reserved address"
    return None


def _ipv6_refusal(address: ipaddress.IPv6Address) -> str | None:
    if address in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    for form, ipv4 in embedded_ipv4(address):
        reason = refusal(ipv4)
        if reason:
            return f"{form} embedding {ipv4}, {reason}"
    return "a site-local address" if address.is_site_local else None


def check_allowed_host(url: str, allowed_hosts: tuple[str, ...]) -> None:
    """With an allow-list configured, refuse any other host."""
    host = (urlsplit(url).hostname or "").lower()
    if allowed_hosts and host not in allowed_hosts:
        raise DestinationRefusedError(f"destination host {host!r} is not in the allowed hosts")
