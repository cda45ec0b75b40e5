"""The SSRF guard. Only IP literals and `localhost` are used: they resolve without DNS."""

from __future__ import annotations

import ipaddress

import pytest

from functions.domain import destinations
from functions.domain.errors import DestinationRefusedError
from functions.services.sender import check_destination


def refusal(url: str) -> str | None:
    """The refusal message for `url` outside dev mode, or None when it may be called."""
    try:
        check_destination(url, allow_private=False)
    except DestinationRefusedError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/x", "a loopback address"),
        ("http://localhost:8080/x", "a loopback address"),
        ("http://[::1]/", "a loopback address"),
        ("http://10.0.0.1/", "a private or reserved address"),
        ("http://192.168.1.10:8443/", "a private or reserved address"),
        ("http://172.16.0.1/", "a private or reserved address"),
        ("http://0.0.0.0/", "a private or reserved address"),
        ("http://[fc00::1]/", "a private or reserved address"),
        ("http://224.0.0.1/", "a private or reserved address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest", "a cloud metadata address"),
        ("http://169.254.1.1/", "a link-local address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[::ffff:127.0.0.1]/", "refused"),
    ],
)
def test_internal_destinations_are_refused_with_the_reason(url: str, reason: str) -> None:
    message = refusal(url)
    assert message is not None
    assert reason in message
    assert "refused outside dev mode" in message


def test_metadata_refusal_names_the_host_and_address() -> None:
    message = refusal("http://169.254.169.254/latest")
    assert message == (
        "destination '169.254.169.254' resolves to 169.254.169.254, a cloud metadata address; "
        "refused outside dev mode"
    )


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/", "https://93.184.216.34:8443/p?x=1", "http://[2606:4700::1]/"]
)
def test_public_ip_literals_may_be_called(url: str) -> None:
    assert refusal(url) is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x", "http://10.0.0.1/", "http://169.254.169.254/"]
)
def test_dev_mode_allows_private_destinations(url: str) -> None:
    # Given an internal destination that is refused outside dev mode
    assert refusal(url) is not None
    # When dev mode allows private destinations, then no refusal is raised
    assert check_destination(url, allow_private=True) is None


def test_shared_address_space_is_refused() -> None:
    message = refusal("http://100.64.0.1/")
    assert message is not None
    assert "private or reserved" in message


def test_invalid_port_is_a_refusal() -> None:
    with pytest.raises(DestinationRefusedError):
        check_destination("http://93.184.216.34:99999/", allow_private=False)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:127.0.0.1", "an IPv4-mapped address embedding 127.0.0.1, a loopback address"),
        ("::127.0.0.1", "an IPv4-compatible address embedding 127.0.0.1, a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a NAT64 address embedding 169.254.169.254, a cloud metadata"),
        ("64:ff9b:1::5db8:d822", "a local-use NAT64 address"),
        ("2002:0a00:0001::1", "a 6to4 address embedding 10.0.0.1, a private or reserved"),
        ("2001:0:5db8:d822::80ff:fffe", "a Teredo address embedding 127.0.0.1, a loopback"),
        ("2002:6440:1::", "a 6to4 address embedding 100.64.0.1, a private or reserved"),
        ("fec0::1", "a site-local address"),
        ("::", "a private or reserved address"),
        ("::1", "a loopback address"),
    ],
)
def test_ipv6_forms_embedding_an_internal_ipv4_address_are_refused(
    address: str, reason: str
) -> None:
    # Python 3.11 calls several of these global (::7f00:1, 64:ff9b::/96, 2002::/16)
    found = destinations.refusal(ipaddress.ip_address(address))
    assert found is not None
    assert found.startswith(reason)


@pytest.mark.parametrize(
    "address", ["::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]
)
def test_ipv6_forms_embedding_a_public_ipv4_address_may_be_called(address: str) -> None:
    # DNS64 answers 64:ff9b::/96 for IPv4-only names on an IPv6-only network
    assert destinations.refusal(ipaddress.ip_address(address)) is None


def test_public_destination_returns_the_address_to_connect_to() -> None:
    assert check_destination("http://93.184.216.34:8080/", allow_private=False) == (
        ipaddress.ip_address("93.184.216.34")
    )
