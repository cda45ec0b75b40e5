"""URL group rules: names, endpoint lists as the SDKs send them, upserts and removals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.errors import NotFoundError, ValidationError
from functions.domain.topics import (
    MAX_ENDPOINTS,
    Endpoint,
    check_topic_name,
    is_topic_name,
    parse_endpoints,
    removed,
    topic_document,
    topic_from_document,
    topic_view,
    upserted,
)

T0 = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)
A = Endpoint("https://a.example/hook", "a")
B = Endpoint("https://b.example/hook")


@pytest.mark.parametrize("name", ["orders", "a", "x.y-z_1", "A" * 128])
def test_group_names_are_letters_digits_and_dot_dash_underscore(name: str) -> None:
    assert is_topic_name(name)
    assert check_topic_name(name) == name


@pytest.mark.parametrize("name", ["", "https://a", "a/b", "a b", "A" * 129, "é"])
def test_anything_else_is_not_a_group_name(name: str) -> None:
    assert not is_topic_name(name)
    with pytest.raises(ValidationError, match="URL group name"):
        check_topic_name(name)


def test_upsert_creates_then_adds_and_renames_by_url() -> None:
    created = upserted(None, "g", [A], now=T0)
    assert (created.endpoints, created.created_at, created.updated_at) == ((A,), T0, T0)
    later = T0 + timedelta(seconds=1)
    renamed = upserted(created, "g", [B, Endpoint(A.url, "alpha")], now=later)
    assert renamed.endpoints == (Endpoint(A.url, "alpha"), B)
    assert (renamed.created_at, renamed.updated_at) == (T0, later)


def test_two_endpoints_may_not_share_a_name() -> None:
    with pytest.raises(ValidationError, match="unique"):
        upserted(None, "g", [A, Endpoint("https://c.example/", "a")], now=T0)


def test_a_group_holds_at_most_the_limit() -> None:
    full = upserted(
        None, "g", [Endpoint(f"https://{n}.example/") for n in range(MAX_ENDPOINTS)], now=T0
    )
    with pytest.raises(ValidationError, match=f"at most {MAX_ENDPOINTS}"):
        upserted(full, "g", [Endpoint("https://one-more.example/")], now=T0)


def test_removal_by_url_or_name_and_the_last_one_leaves_nothing() -> None:
    group = upserted(None, "g", [A, B], now=T0)
    left = removed(group, [Endpoint("", "a")], now=T0)
    assert left is not None
    assert left.endpoints == (B,)
    assert removed(left, [B], now=T0) is None
    with pytest.raises(NotFoundError, match="no endpoint https://z"):
        removed(group, [Endpoint("https://z.example/")], now=T0)


@pytest.mark.parametrize(
    ("body", "removing", "error"),
    [
        (None, False, "the body must be"),
        ({"endpoints": [], "x": 1}, False, "unknown field"),
        ({"endpoints": "https://a"}, False, "non-empty array"),
        ({"endpoints": ["https://a"]}, False, "endpoints[0] must be an object"),
        ({"endpoints": [{"name": "a"}]}, False, "endpoints[0]: url is required"),
        ({"endpoints": [{}]}, True, "endpoints[0]: url or name is required"),
        ({"endpoints": [{"url": 7}]}, False, "endpoints[0].url must be a string"),
        ({"endpoints": [{"url": "https://a", "name": "a b"}]}, False, "endpoints[0].name"),
        ({"endpoints": [{"url": "mailto:x"}]}, False, "endpoints[0].url"),
        ({"endpoints": [{"url": "https://a"}] * (MAX_ENDPOINTS + 1)}, False, "at most"),
    ],
)
def test_bad_endpoint_lists_name_what_is_wrong(
    body: dict[str, object] | None, removing: bool, error: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_endpoints(body, removing=removing)
    assert error in str(raised.value)


def test_removal_accepts_a_name_alone() -> None:
    assert parse_endpoints({"endpoints": [{"name": "a"}]}, removing=True) == [Endpoint("", "a")]


def test_document_round_trips_and_the_view_is_what_the_sdks_parse() -> None:
    group = upserted(None, "g", [A, B], now=T0)
    assert topic_from_document(topic_document(group)) == group
    view = topic_view(group)
    assert view == {
        "name": "g",
        "createdAt": int(T0.timestamp() * 1000),
        "updatedAt": int(T0.timestamp() * 1000),
        "endpoints": [{"url": A.url, "name": "a"}, {"url": B.url}],
    }
