"""Bearer-token parsing and the digest comparison behind every API call."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from functions.domain.auth import authenticate, bearer_token, hash_token
from functions.domain.errors import UnauthorizedError


def accepted(token: str, hashes: Iterable[str]) -> bool:
    try:
        authenticate(token, hashes)
    except UnauthorizedError:
        return False
    return True


@pytest.mark.parametrize(
    "header",
    ["Bearer tok-1", "bearer tok-1", "BEARER tok-1", "  Bearer   tok-1  ", "Bearer tok-1\n"],
)
def test_bearer_scheme_is_case_insensitive_and_token_trimmed(header: str) -> None:
    assert bearer_token(header) == "tok-1"


@pytest.mark.parametrize("header", [None, ""])
def test_missing_authorization_is_unauthorized(header: str | None) -> None:
    with pytest.raises(UnauthorizedError, match="missing"):
        bearer_token(header)


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Token tok-1", "Bearer", "Bearer   ", "tok-1"]
)
def test_other_schemes_or_no_token_are_unauthorized(header: str) -> None:
    with pytest.raises(UnauthorizedError, match="must be 'Bearer <token>'"):
        bearer_token(header)


def test_query_token_is_used_without_an_authorization_header() -> None:
    assert bearer_token(None, "tok-q") == "tok-q"
    assert bearer_token("", " tok-q ") == "tok-q"


def test_authorization_header_wins_over_the_query_token() -> None:
    assert bearer_token("Bearer tok-h", "tok-q") == "tok-h"


def test_a_malformed_header_is_not_rescued_by_the_query_token() -> None:
    with pytest.raises(UnauthorizedError, match="Bearer <token>"):
        bearer_token("Basic abc", "tok-q")


def test_authenticate_accepts_a_token_whose_digest_is_listed() -> None:
    hashes = [hash_token("other"), hash_token("tok-1")]
    assert accepted("tok-1", hashes)
    assert not accepted("tok-2", hashes)


def test_authenticate_rejects_a_mismatch_with_invalid_token() -> None:
    with pytest.raises(UnauthorizedError, match="invalid token"):
        authenticate("tok-2", [hash_token("tok-1")])


def test_authenticate_rejects_everything_when_no_hash_is_configured() -> None:
    with pytest.raises(UnauthorizedError, match="invalid token"):
        authenticate("tok-1", [])


@pytest.mark.parametrize("padded", [" tok-1", "tok-1\n", "\ttok-1  "])
def test_whitespace_padded_token_is_accepted(padded: str) -> None:
    assert accepted(padded, [hash_token("tok-1")])


def test_the_token_itself_is_not_an_accepted_hash() -> None:
    # Given the plain token configured where a digest belongs, then it does not authenticate.
    assert not accepted("tok-1", ["tok-1"])
