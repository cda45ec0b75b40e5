"""Newest-first pages over a message listing, filtered, with a cursor that never skips."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from functions.domain.messages import Message
    from functions.ports import Listing, MessageStore

# At most this many listed messages are read for one page: a filter that matches rarely
# answers a short (even empty) page with a cursor, never a scan of the whole table in one
# request. Clients follow the cursor until it is null.
SCAN_BUDGET = 1000


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
    budget: int = SCAN_BUDGET,
) -> tuple[list[Message], str | None]:
    """Up to `wanted` messages the predicate selects, newest first, and the next cursor."""
    found: list[Message] = []
    scanned = 0
    while True:
        page = store.newest(listing, cursor=cursor, count=wanted)
        loaded = {m.message_id: m for m in store.get_many(page.ids)}
        for index, message_id in enumerate(page.ids):
            message = loaded.get(message_id)  # gone (expired) between the two reads: skip
            if message is None or not matches(message):
                continue
            found.append(message)
            if len(found) == wanted:
                last = index == len(page.ids) - 1
                # Resume just past the last one returned, so no match is skipped over.
                return found, page.cursor if last else page.after[index]
        scanned += len(page.ids)
        if page.cursor is None or scanned >= budget:
            return found, page.cursor
        cursor = page.cursor
