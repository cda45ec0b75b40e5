"""SQLite's own memory (outside Python's heap, so tracemalloc never sees it) stays flat under
reads that repeat with different sizes: what a server polled for stats every minute does."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator

import pytest

from functions.adapters.sqlite import open_database
from functions.adapters.sqlite.db import Database
from functions.adapters.sqlite.messages import SqliteMessageStore
from tests.contract.builders import new_message


def _sqlite_memory_used() -> ctypes._CFuncPtr:
    found = ctypes.util.find_library("sqlite3")
    if found is None:
        pytest.skip("no shared libsqlite3 to ask (this Python links SQLite statically)")
    used = ctypes.CDLL(found).sqlite3_memory_used
    used.restype = ctypes.c_longlong
    return used


@pytest.fixture
def store() -> Iterator[SqliteMessageStore]:
    db: Database = open_database(None)
    yield SqliteMessageStore(db)
    db.close()


def test_reading_many_ids_at_sixty_different_counts_holds_no_memory_per_count(
    store: SqliteMessageStore,
) -> None:
    memory_used = _sqlite_memory_used()
    ids = [f"msg_{n:05d}" for n in range(500)]
    for message_id in ids:
        store.create(new_message(message_id))
    store.get_many(ids[:400])  # the first read of this shape, cached like any other
    if memory_used() <= 0:
        pytest.skip("the libsqlite3 found is not the one Python's sqlite3 module uses")
    before = memory_used()
    for count in range(401, 461):
        assert len(store.get_many(ids[:count])) == count
    # A statement per count would hold about 80 KB each: 60 of them, nearly 5 MB.
    assert memory_used() - before < 256 * 1024
