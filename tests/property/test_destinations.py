"""Destinations: the `/v2/publish/{destination}` raw path and query rebuilt into a URL (the
`qstash_token` parameter stripped, however spelled), the allow-list, and the SSRF guard."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain.destinations import check_allowed_host, refusal
from functions.domain.errors import DestinationRefusedError, ValidationError
from functions.domain.publish import PublishLimits, destination_from_path, parse_publish
from functions.services.sender import check_destination
from tests.property.strategies import (
    TOKEN_SPELLINGS,
    good_hosts,
    good_urls,
    query_parts,
    raw_queries,
    raw_tails,
)
from tests.property.support import examples, value_or_named_error

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _is_token(part: str) -> bool:
    return unquote_plus(part.partition("=")[0]).strip().lower() == "qstash_token"


@examples(100)
@given(raw_tails, raw_queries)
def test_the_rebuild_gives_an_http_url_or_a_400_naming_the_destination(
    tail: str, query: str
) -> None:
    rebuilt = value_or_named_error(
        lambda: destination_from_path(tail, query), errors=(ValidationError,), names="destination"
    )
    if isinstance(rebuilt, str):
        parts = urlsplit(rebuilt)
        assert parts.scheme.lower() in {"http", "https"}
        assert parts.hostname
        # What the rebuild appended to the destination (before its fragment) is the request's
        # query without any parameter that authenticates.
        base = destination_from_path(tail, "").split("#", 1)[0]
        head = rebuilt.split("#", 1)[0]
        assert head.startswith(base)
        appended = [p for p in head[len(base) :].lstrip("?&").split("&") if p]
        assert appended == [p for p in query.split("&") if p and not _is_token(p)]


@examples(60)
@given(
    good_urls,
    st.lists(st.sampled_from(["a=1", "b=x%20y", "c"]), max_size=2),
    st.none() | st.sampled_from(["frag", "", "a?b=1"]),
    st.lists(query_parts | st.sampled_from(TOKEN_SPELLINGS), max_size=5),
)
# Failed before the fix in publish.destination_from_path: the query went after the fragment
# ("https://example.com/p#f" and "id=7" gave "https://example.com/p#f?id=7").
@example("https://example.com/p", [], "frag", ["id=7"])
def test_a_rebuilt_destination_keeps_the_query_except_the_token(
    url: str, own_query: list[str], fragment: str | None, request_query: list[str]
) -> None:
    # Given a destination with its own query and fragment, and the request's raw query
    tail = url + (f"?{'&'.join(own_query)}" if own_query else "")
    tail += f"#{fragment}" if fragment is not None else ""
    # When it is rebuilt
    rebuilt = urlsplit(destination_from_path(tail, "&".join(request_query)))
    # Then scheme, host, path and fragment are the destination's, and the query is its own
    # followed by the request's, byte for byte, without any spelling of qstash_token
    original = urlsplit(url)
    assert (rebuilt.scheme, rebuilt.netloc, rebuilt.path) == (
        original.scheme,
        original.netloc,
        original.path,
    )
    assert rebuilt.fragment == (fragment or "")
    kept = [p for p in request_query if p and not _is_token(p)]
    assert [p for p in rebuilt.query.split("&") if p] == [*own_query, *kept]


@examples(30)
@given(good_urls)
def test_a_collapsed_or_percent_encoded_scheme_rebuilds_the_same_url(url: str) -> None:
    collapsed = url.replace("://", ":/", 1)
    encoded = quote(url, safe="")
    assert destination_from_path(collapsed, "") == url
    assert destination_from_path(encoded, "") == url


@examples(30)
@given(good_urls, st.lists(good_hosts.map(lambda h: h.strip("[]").lower()), max_size=3))
def test_an_allow_list_refuses_every_other_host_naming_it(url: str, allowed: list[str]) -> None:
    host = (urlsplit(url).hostname or "").lower()
    limits = PublishLimits(max_body_bytes=1024, allowed_hosts=tuple(allowed))
    outcome = value_or_named_error(
        lambda: parse_publish(destination=url, headers={}, body=b"", now=NOW, limits=limits),
        errors=(ValidationError,),
        names="destination host",
    )
    refused = bool(allowed) and host not in allowed
    assert isinstance(outcome, ValidationError) == refused
    if refused:
        assert repr(host) in str(outcome)
        # and the check itself says the same
        with pytest.raises(DestinationRefusedError):
            check_allowed_host(url, tuple(allowed))


def _dressings(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    """IPv6 forms that carry `v4` to an IPv4 host: mapped, translated, NAT64, 6to4, compatible."""
    n = int(v4)
    forms = [
        ipaddress.IPv6Address((0xFFFF << 32) | n),
        ipaddress.IPv6Address((0xFFFF << 48) | n),
        ipaddress.IPv6Address((0x64FF9B << 96) | n),
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80)),
    ]
    if n > 1:
        forms.append(ipaddress.IPv6Address(n))
    return forms


@examples(100)
@given(st.ip_addresses())
@example(ipaddress.ip_address("169.254.169.254"))
@example(ipaddress.ip_address("fd00:ec2::254"))
def test_the_ssrf_guard_judges_every_address_and_every_ipv6_dressing_of_an_internal_one(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    reason = refusal(address)
    assert reason is None or reason
    if isinstance(address, ipaddress.IPv4Address) and reason is not None:
        for dressed in _dressings(address):
            assert refusal(dressed), f"{dressed} carries {address} ({reason}) but is allowed"


@examples(50)
@given(st.ip_addresses(), st.sampled_from(["http", "https"]), st.sampled_from(["", ":8443"]))
def test_the_delivery_check_refuses_an_ip_literal_exactly_when_the_guard_does(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, scheme: str, port: str
) -> None:
    # A numeric host: getaddrinfo parses it, nothing is looked up.
    host = f"[{address}]" if address.version == 6 else str(address)
    url = f"{scheme}://{host}{port}/hook"
    refused: DestinationRefusedError | None = None
    try:
        checked = check_destination(url, allow_private=False)
    except DestinationRefusedError as exc:
        refused = exc
    if refused is not None:
        assert refusal(address) is not None, (url, str(refused))
        assert str(address) in str(refused)
    else:
        assert refusal(address) is None, url
        assert checked == address
