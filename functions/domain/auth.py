"""Bearer-token check: tokens are compared as sha256 digests, in constant time."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from functions.domain.errors import UnauthorizedError

if TYPE_CHECKING:
    from collections.abc import Iterable


def bearer_token(authorization: str | None, query_token: str | None = None) -> str:
    """The token from `Authorization: Bearer …` or QStash's `qstash_token` query parameter."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        raise UnauthorizedError("Authorization header must be 'Bearer <token>'")
    if query_token and query_token.strip():
        return query_token.strip()
    raise UnauthorizedError("missing Authorization: Bearer <token>")


def authenticate(token: str, accepted_hashes: Iterable[str]) -> None:
    """Raise UnauthorizedError unless `token` hashes to one of `accepted_hashes`."""
    presented = hash_token(token).encode()
    # Compare against every hash without stopping early, so timing tells nothing.
    matched = False
    for accepted in accepted_hashes:
        matched |= hmac.compare_digest(presented, accepted.encode())
    if not matched:
        raise UnauthorizedError("invalid token")


def hash_token(token: str) -> str:
    """sha256 hex digest of a token, the only form in which tokens are stored."""
    return hashlib.sha256(token.strip().encode()).hexdigest()
