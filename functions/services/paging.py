"""Newest-first pages over a message listing, filtered, with a cursor that never skips."""

from __future__ import annotations

from collections.abc import Callable

from functions.domain.errors import ValidationError
from functions.domain.messages import Message
from functions.ports import Listing, MessageStore


def page_size(count: int | None, maximum: int) -> int:
    if count is None:
        return maximum
    if not 1 <= count <= maximum:
        raise ValidationError(f"count must be between 1 and {maximum}, got {count}")
    return count


def newest_matching(
    store: MessageStore,
    listing: Listing,
    *,
    cursor: str | None,
    wanted: int,
    matches: Callable[[Message], bool],
) -> tuple[list[Message], str | None]:
    """Up to `wanted` messages the predicate selects, newest first, and the next cursor."""
    found: list[Message] = []
    while len(found) < wanted:
        # Never more than still wanted: the cursor then points just past the last one
        # returned, and no match is skipped over between pages.
        page = store.newest(listing, cursor=cursor, count=wanted - len(found))
        cursor = page.cursor
        found += [m for m in store.get_many(page.ids) if matches(m)]
        if cursor is None:
            break
    return found, cursor
