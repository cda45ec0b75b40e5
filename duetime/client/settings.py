"""Where the client connects, and the bodies and queries shared by both clients."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from duetime.client.calls import Query
from duetime.client.filters import DlqFilter, MessageFilter

DEFAULT_URL = "http://127.0.0.1:8080"  # `duetime dev`


def connection(url: str | None, token: str | None) -> tuple[str, dict[str, str]]:
    base = (url or os.environ.get("QSTASH_URL") or DEFAULT_URL).rstrip("/")
    parsed = urlsplit(base)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError(f"the API URL must be http:// or https://, got {base!r}")
    secret = token or os.environ.get("QSTASH_TOKEN")
    if not secret:
        raise ValueError("no token: pass token= or set QSTASH_TOKEN")
    return base, {"Authorization": f"Bearer {secret.strip()}"}


def page_query(
    selection: MessageFilter | DlqFilter | None, count: int | None, cursor: str | None
) -> Query:
    query = selection.query() if selection is not None else []
    if count is not None:
        query.append(("count", str(count)))
    if cursor:
        query.append(("cursor", cursor))
    return query


def bulk_body(
    ids: list[str] | None,
    selection: MessageFilter | DlqFilter | None,
    every: bool,
    ids_field: str,
    *,
    count: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any] | None:
    """A bulk call's body. Naming nothing is refused here: an empty selection must never
    reach everything by accident, so "all" is its own explicit flag."""
    chosen = sum([ids is not None, selection is not None and not selection.is_empty(), every])
    if chosen != 1:
        raise ValueError("name exactly one of: ids, a non-empty filter, or every=True")
    body: dict[str, Any] = {}
    if ids is not None:
        body[ids_field] = ids
    elif selection is not None and not selection.is_empty():
        body = selection.body()
    elif ids_field == "dlqIds":
        body["all"] = True
    if count is not None:
        body["count"] = count
    if cursor:
        body["cursor"] = cursor
    # The messages API cancels every pending one for a request with no body at all.
    return body or None
