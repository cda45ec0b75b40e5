"""Internal addresses in every spelling are refused before any connection is made.

The stub resolver answers IP literals as the OS does (the real getaddrinfo with
AI_NUMERICHOST: glibc parses octal, hex, integer and short IPv4 forms with inet_aton, and
never asks DNS) and names from a table; httpx.MockTransport records any request sent."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpx
import pytest

from functions.services import sender
from functions.services.sender import attempt

NAMES = {
    "localhost": ["127.0.0.1", "::1"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "10.0.0.1"],
    "v6only.example": ["::ffff:10.0.0.1"],
    "10.0.0.1.nip.example": ["10.0.0.1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "public.example": ["93.184.216.34"],
}


def _getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[Any, ...]]:
    if host in NAMES:
        return [_info(address, port) for address in NAMES[host]]
    try:
        return _real_getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


_real_getaddrinfo = socket.getaddrinfo


def _info(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    monkeypatch.setattr(sender.socket, "getaddrinfo", _getaddrinfo)
    return []


def _attempt(url: str, seen: list[httpx.Request]) -> sender.Attempt:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    return attempt(
        httpx.MockTransport(handler),
        method="POST",
        url=url,
        headers={},
        body=b"{}",
        timeout_seconds=5,
        allow_private=False,
        allowed_hosts=(),
    )


LOOPBACK = "a loopback address"
PRIVATE = "a private or reserved address"
METADATA = "a cloud metadata address"
LINK_LOCAL = "a link-local address"

REFUSED = [
    # IPv4 loopback, in every spelling inet_aton accepts
    ("http://127.0.0.1/", LOOPBACK),
    ("http://127.255.255.254:8080/", LOOPBACK),
    ("http://0177.0.0.1/", LOOPBACK),
    ("http://0x7f.0.0.1/", LOOPBACK),
    ("http://0X7F.0.0.1/", LOOPBACK),
    ("http://0x7f000001/", LOOPBACK),
    ("http://2130706433/", LOOPBACK),
    ("http://017700000001/", LOOPBACK),
    ("http://127.1/", LOOPBACK),
    ("http://127.0.1/", LOOPBACK),
    ("http://0x7f.1/", LOOPBACK),
    ("http://0177.1/", LOOPBACK),
    ("http://localhost/", LOOPBACK),
    ("http://LOCALHOST:3000/", LOOPBACK),
    # this network, 0.0.0.0/8
    ("http://0.0.0.0/", PRIVATE),
    ("http://0/", PRIVATE),
    ("http://0x0/", PRIVATE),
    ("http://0.1.2.3/", PRIVATE),
    # RFC 1918
    ("http://10.0.0.1/", PRIVATE),
    ("http://10.255.255.255/", PRIVATE),
    ("http://10.1/", PRIVATE),
    ("http://012.0.0.1/", PRIVATE),
    ("http://167772161/", PRIVATE),
    ("http://172.16.0.1/", PRIVATE),
    ("http://172.31.255.254/", PRIVATE),
    ("http://0xac.0x10.0.1/", PRIVATE),
    ("http://192.168.0.1/", PRIVATE),
    ("http://192.168.257/", PRIVATE),
    ("http://3232235777/", PRIVATE),
    # link-local and the metadata endpoint
    ("http://169.254.169.254/latest/meta-data/", METADATA),
    ("http://0xa9.0xfe.0xa9.0xfe/", METADATA),
    ("http://0251.0376.0251.0376/", METADATA),
    ("http://2852039166/", METADATA),
    ("http://169.254.0.1/", LINK_LOCAL),
    # shared (carrier-grade NAT), IETF, documentation, benchmark
    ("http://100.64.0.1/", PRIVATE),
    ("http://100.127.255.254/", PRIVATE),
    ("http://192.0.0.1/", PRIVATE),
    ("http://192.0.2.1/", PRIVATE),
    ("http://198.18.0.1/", PRIVATE),
    ("http://198.19.255.254/", PRIVATE),
    # multicast, reserved, broadcast
    ("http://224.0.0.1/", PRIVATE),
    ("http://239.255.255.250/", PRIVATE),
    ("http://233.252.0.1/", PRIVATE),
    ("http://240.0.0.1/", PRIVATE),
    ("http://255.255.255.255/", PRIVATE),
    ("http://0xffffffff/", PRIVATE),
    # IPv6
    ("http://[::1]/", LOOPBACK),
    ("http://[0:0:0:0:0:0:0:1]/", LOOPBACK),
    ("http://[::]/", PRIVATE),
    ("http://[fe80::1]/", LINK_LOCAL),
    ("http://[febf::1]/", LINK_LOCAL),
    ("http://[fec0::1]/", "a site-local address"),
    ("http://[fc00::1]/", PRIVATE),
    ("http://[fd12:3456::1]/", PRIVATE),
    ("http://[fd00:ec2::254]/latest", METADATA),
    ("http://[ff02::1]/", PRIVATE),
    ("http://[ff0e::1]/", PRIVATE),
    ("http://[100::1]/", PRIVATE),
    # IPv4-mapped and -translated
    ("http://[::ffff:127.0.0.1]/", "an IPv4-mapped address embedding 127.0.0.1, " + LOOPBACK),
    ("http://[::FFFF:7f00:1]/", "an IPv4-mapped address embedding 127.0.0.1, " + LOOPBACK),
    ("http://[::ffff:169.254.169.254]/", "embedding 169.254.169.254, " + METADATA),
    ("http://[::ffff:10.0.0.1]/", "an IPv4-mapped address embedding 10.0.0.1, " + PRIVATE),
    ("http://[::ffff:0:127.0.0.1]/", "an IPv4-translated address embedding 127.0.0.1"),
    # IPv4-compatible
    ("http://[::127.0.0.1]/", "an IPv4-compatible address embedding 127.0.0.1, " + LOOPBACK),
    ("http://[::a00:1]/", "an IPv4-compatible address embedding 10.0.0.1, " + PRIVATE),
    ("http://[::169.254.169.254]/", "an IPv4-compatible address embedding 169.254.169.254"),
    # NAT64
    ("http://[64:ff9b::127.0.0.1]/", "a NAT64 address embedding 127.0.0.1, " + LOOPBACK),
    ("http://[64:ff9b::a9fe:a9fe]/", "a NAT64 address embedding 169.254.169.254, " + METADATA),
    ("http://[64:ff9b::192.168.0.1]/", "a NAT64 address embedding 192.168.0.1, " + PRIVATE),
    ("http://[64:ff9b::6440:1]/", "a NAT64 address embedding 100.64.0.1, " + PRIVATE),
    ("http://[64:ff9b:1::7f00:1]/", "a local-use NAT64 address"),
    ("http://[64:ff9b:1:7f00:1::]/", "a local-use NAT64 address"),
    # 6to4: the IPv4 address at bits 16-48
    ("http://[2002:7f00:1::]/", "a 6to4 address embedding 127.0.0.1, " + LOOPBACK),
    ("http://[2002:a9fe:a9fe::1]/", "a 6to4 address embedding 169.254.169.254, " + METADATA),
    ("http://[2002:c0a8:101::1]/", "a 6to4 address embedding 192.168.1.1, " + PRIVATE),
    ("http://[2002:6440:1::]/", "a 6to4 address embedding 100.64.0.1, " + PRIVATE),
    # Teredo: server at bits 32-64, client obfuscated (inverted) in the last 32 bits
    ("http://[2001:0:5db8:d822::80ff:fffe]/", "a Teredo address embedding 127.0.0.1"),
    ("http://[2001:0:5db8:d822::5601:5601]/", "a Teredo address embedding 169.254.169.254"),
    ("http://[2001:0:a00:1::5db8:d822]/", "a Teredo address embedding 10.0.0.1, " + PRIVATE),
    ("http://[2001:0:5db8:d822::a247:29dd]/", PRIVATE),  # both public: Teredo is not global
    # names that resolve inside
    ("http://metadata.example/", METADATA),
    ("http://mixed.example/", "resolves to 10.0.0.1, " + PRIVATE),
    ("http://v6only.example/", "embedding 10.0.0.1"),
    ("http://10.0.0.1.nip.example/", PRIVATE),
    ("https://nat64.example/", METADATA),
]


def test_the_table_is_long_enough() -> None:
    assert len(REFUSED) >= 60
    assert len({url for url, _ in REFUSED}) == len(REFUSED)


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_internal_destination_is_refused_before_any_connection(
    sent: list[httpx.Request], url: str, reason: str
) -> None:
    result = _attempt(url, sent)
    assert sent == []
    assert result.refused
    assert result.result.error is not None
    assert reason in result.result.error
    assert result.result.error.endswith("refused outside dev mode")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://93.184.216.34/", "93.184.216.34"),
        ("http://1572395042/", "93.184.216.34"),  # integer form of a public address
        ("http://[2606:4700::1]/", "2606:4700::1"),
        ("http://[::ffff:93.184.216.34]/", "::ffff:5db8:d822"),
        ("http://[64:ff9b::93.184.216.34]/", "64:ff9b::5db8:d822"),  # DNS64 for a v4-only name
        ("http://[2002:5db8:d822::1]/", "2002:5db8:d822::1"),
        ("https://public.example/", "93.184.216.34"),
    ],
)
def test_public_destinations_are_sent_to_the_checked_address(
    sent: list[httpx.Request], url: str, address: str
) -> None:
    result = _attempt(url, sent)
    assert result.result.ok
    assert not result.refused
    (request,) = sent
    assert ipaddress.ip_address(request.url.host) == ipaddress.ip_address(address)


def test_a_rebinding_resolver_never_gets_a_connection_to_the_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a name that alternates between a public and the metadata address
    answers = ["93.184.216.34", "169.254.169.254"] * 3

    def rebinding(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        return [_info(answers.pop(0), port)]

    monkeypatch.setattr(sender.socket, "getaddrinfo", rebinding)
    seen: list[httpx.Request] = []
    # When deliveries are attempted while it rebinds
    results = [_attempt("http://rebind.example/latest/meta-data/", seen) for _ in range(6)]
    # Then each was either sent to the public address it was checked on, or refused unsent
    assert [r.refused for r in results] == [False, True] * 3
    assert [r.url.host for r in seen] == ["93.184.216.34"] * 3
    assert all(r.headers["host"] == "rebind.example" for r in seen)
    assert all(METADATA in (r.result.error or "") for r in results[1::2])
