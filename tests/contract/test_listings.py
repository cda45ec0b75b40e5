"""MessageStore.newest: the event log and the DLQ, newest first, paged by opaque cursors."""

from __future__ import annotations

import pytest

from functions.adapters.aws.schema import wake_shard
from functions.domain.errors import ValidationError
from functions.domain.messages import Message
from functions.ports import Adapters, Listing, encode_cursor
from functions.services.paging import newest_matching
from tests.contract.builders import T0, at, created, fail


def _all_pages(backend: Adapters, listing: Listing, *, count: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = backend.messages.newest(listing, cursor=cursor, count=count)
        pages.append(page.ids)
        if page.cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"
        cursor = page.cursor


def _newest_first(messages: list[Message]) -> list[str]:
    return [
        m.message_id
        for m in sorted(messages, key=lambda m: (m.created_at, m.message_id), reverse=True)
    ]


def test_an_empty_log_is_one_empty_page(backend: Adapters) -> None:
    # Given no messages
    # When the log is listed
    page = backend.messages.newest(Listing.LOG, cursor=None, count=10)
    # Then the page is empty and ends the listing
    assert (page.ids, page.cursor) == ([], None)


def test_the_log_pages_through_every_message_exactly_once_newest_first(
    backend: Adapters,
) -> None:
    # Given eight messages created at six distinct times (two pairs share a time)
    times = [at(0), at(1), at(1), at(2), at(3), at(3), at(4), at(5)]
    messages = [created(backend.messages, created=t, due=t) for t in times]
    # When the log is read three at a time, following each page's cursor
    pages = _all_pages(backend, Listing.LOG, count=3)
    # Then the pages hold 3, 3 and 2 ids: every message once, newest first
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p] == _newest_first(messages)


def test_a_page_that_reaches_the_last_message_has_no_cursor(backend: Adapters) -> None:
    # Given exactly as many messages as a page holds
    messages = [created(backend.messages, created=at(n)) for n in range(3)]
    # When one page is read
    page = backend.messages.newest(Listing.LOG, cursor=None, count=3)
    # Then it holds them all and there is no next page
    assert (page.ids, page.cursor) == (_newest_first(messages), None)


def test_a_cursor_is_opaque(backend: Adapters) -> None:
    # Given more messages than a page holds
    messages = [created(backend.messages, created=at(n)) for n in range(3)]
    # When the first page is read
    page = backend.messages.newest(Listing.LOG, cursor=None, count=2)
    # Then its cursor names no message id, nor a time, in clear
    assert page.cursor is not None
    assert not any(m.message_id in page.cursor for m in messages)
    assert "2031" not in page.cursor


@pytest.mark.parametrize("cursor", ["garbage", "not a cursor", "____", "!!!"])
def test_a_garbage_cursor_is_a_validation_error(backend: Adapters, cursor: str) -> None:
    # Given some messages
    for n in range(3):
        created(backend.messages, created=at(n))
    # When the log is read from a cursor no listing returned
    # Then the request is refused as invalid
    with pytest.raises(ValidationError):
        backend.messages.newest(Listing.LOG, cursor=cursor, count=2)


def test_a_cursor_past_the_oldest_message_gives_an_empty_last_page(backend: Adapters) -> None:
    # Given some messages
    for n in range(3):
        created(backend.messages, created=at(n + 60))
    # When the log is read from a position older than all of them
    page = backend.messages.newest(
        Listing.LOG, cursor=encode_cursor("2031-01-06T09:00:00.000000Z#msg_0"), count=2
    )
    # Then the page is empty and ends the listing
    assert (page.ids, page.cursor) == ([], None)


def test_the_dlq_lists_failed_messages_newest_failure_first(backend: Adapters) -> None:
    # Given three messages; the oldest fails last, one is still waiting
    oldest = created(backend.messages, created=T0, due=T0)
    newer = created(backend.messages, created=at(1), due=at(1))
    waiting = created(backend.messages, created=at(2), due=at(2))
    fail(backend.messages, newer.message_id, now=at(10))
    fail(backend.messages, oldest.message_id, now=at(20))
    # When the DLQ is read a page at a time
    pages = _all_pages(backend, Listing.DLQ, count=1)
    # Then it holds the failed ones by failure time, newest first, and not the waiting one
    assert pages == [[oldest.message_id], [newer.message_id]]
    # While the log still lists all three by creation time
    assert backend.messages.newest(Listing.LOG, cursor=None, count=10).ids == [
        waiting.message_id,
        newer.message_id,
        oldest.message_id,
    ]


@pytest.mark.parametrize("listing", [Listing.LOG, Listing.DLQ])
def test_a_listing_whose_rest_sits_in_one_shard_still_pages_to_the_end(
    backend: Adapters, listing: Listing
) -> None:
    # Given five messages whose ids all fall in one shard of the AWS adapter's sharded index
    # (on SQLite, any five): the merged first page then comes whole from that shard, so only
    # the shard itself can tell that more follow (this once ended the listing early)
    ids = [i for i in (f"msg_shard{n}" for n in range(400)) if wake_shard(i) == "3"][:5]
    messages = [
        created(backend.messages, message_id=i, created=at(n), due=at(n)) for n, i in enumerate(ids)
    ]
    if listing is Listing.DLQ:
        for n, message in enumerate(messages):
            fail(backend.messages, message.message_id, now=at(10 + n))
    # When it is read one at a time
    pages = _all_pages(backend, listing, count=1)
    # Then every one is seen, newest first, and the last page ends it
    assert [i for p in pages for i in p] == list(reversed(ids))


def test_each_listed_id_carries_the_cursor_that_resumes_just_past_it(backend: Adapters) -> None:
    # Given five messages
    messages = [created(backend.messages, created=at(n)) for n in range(5)]
    newest_first = _newest_first(messages)
    # When the first page of four is read, and the listing resumed from its second id's mark
    page = backend.messages.newest(Listing.LOG, cursor=None, count=4)
    resumed = backend.messages.newest(Listing.LOG, cursor=page.after[1], count=10)
    # Then every id has a mark, and resuming from one lists exactly the ones after it
    assert len(page.after) == len(page.ids) == 4
    assert resumed.ids == newest_first[2:]


def test_a_filtered_listing_stops_inside_a_page_without_skipping_a_match(
    backend: Adapters,
) -> None:
    # Given twelve messages, every third one labelled "pick"
    messages = [
        created(backend.messages, created=at(n), label="pick" if n % 3 == 0 else None)
        for n in range(12)
    ]
    picked = [i for i in _newest_first(messages) if i in {m.message_id for m in messages[::3]}]
    # When the picked ones are read two per page, following the cursor
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = newest_matching(
            backend.messages,
            Listing.LOG,
            cursor=cursor,
            wanted=2,
            matches=lambda m: m.label == "pick",
        )
        seen += [m.message_id for m in page]
        if cursor is None:
            break
    # Then each is seen once, newest first, and the listing ends
    assert seen == picked
    assert cursor is None


def test_a_rare_filter_reads_a_bounded_number_per_page_and_hands_back_a_cursor(
    backend: Adapters,
) -> None:
    # Given thirty messages and a filter that matches only the oldest
    messages = [created(backend.messages, created=at(n)) for n in range(30)]
    oldest = messages[0].message_id

    def oldest_only(cursor: str | None) -> tuple[list[Message], str | None]:
        return newest_matching(
            backend.messages,
            Listing.LOG,
            cursor=cursor,
            wanted=5,
            matches=lambda m: m.message_id == oldest,
            budget=10,
        )

    # When one page is asked for with a scan budget of ten
    page, cursor = oldest_only(None)
    # Then the page is empty but the cursor goes on, and following it finds the match
    assert page == []
    assert cursor is not None
    found: list[str] = []
    while cursor is not None:
        more, cursor = oldest_only(cursor)
        found += [m.message_id for m in more]
    assert found == [oldest]
