"""Following a listing's cursor, for the sync and async clients alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Protocol, TypeVar

Item_co = TypeVar("Item_co", covariant=True)
Listed = TypeVar("Listed")


class Listing(Protocol[Item_co]):
    """A page of a newest-first listing (MessagePage, DlqPage)."""

    @property
    def messages(self) -> Sequence[Item_co]: ...

    @property
    def cursor(self) -> str | None: ...


def every(fetch: Callable[[str | None], Listing[Listed]]) -> Iterator[Listed]:
    """Each item of each page, following the cursor. A filtered page may be short, even
    empty, before the end: only a page with no cursor ends the listing."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.messages
        if not page.cursor:
            return
        cursor = page.cursor


async def every_async(
    fetch: Callable[[str | None], Awaitable[Listing[Listed]]],
) -> AsyncIterator[Listed]:
    """`every`, for the async client."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.messages:
            yield item
        if not page.cursor:
            return
        cursor = page.cursor
