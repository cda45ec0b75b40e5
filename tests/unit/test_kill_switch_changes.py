"""Kill switches over one store shared by several processes: each caches the switches until
the shared change counter moves (functions/services/killswitches.py, `changes`)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from functions.adapters.sqlite import open_database
from functions.adapters.sqlite.killswitches import SqliteKillSwitchStore
from functions.domain.killswitches import SwitchedOffError
from functions.local.worker_processes import SharedCounter
from functions.ports import KillSwitch
from functions.services.killswitches import KillSwitches
from tests.contract.builders import T0

FOREVER = 10**9  # seconds: only the counter can end these caches


@dataclass
class CountingStore:
    """The real SQLite store, counting how often the switches are read from it."""

    inner: SqliteKillSwitchStore
    reads: int = 0

    def all(self) -> list[KillSwitch]:
        self.reads += 1
        return self.inner.all()

    def turn_on(self, scope: str, *, reason: str | None, now: datetime) -> None:
        self.inner.turn_on(scope, reason=reason, now=now)

    def turn_off(self, scope: str) -> bool:
        return self.inner.turn_off(scope)


@pytest.fixture
def store() -> Iterator[CountingStore]:
    db = open_database(None)
    try:
        yield CountingStore(SqliteKillSwitchStore(db))
    finally:
        db.close()


def _switches(store: CountingStore, counter: SharedCounter) -> KillSwitches:
    return KillSwitches(store=store, clock=lambda: T0, cache_seconds=FOREVER, changes=counter)


def test_a_switch_turned_on_through_one_holds_in_the_other_at_its_next_check(
    store: CountingStore,
) -> None:
    # Given two processes' kill switches over one store, sharing a change counter
    counter = SharedCounter(multiprocessing.get_context("spawn"))
    here, there = _switches(store, counter), _switches(store, counter)
    there.check(url="https://example.com/a", what="message")
    # When one turns the global switch on
    here.turn_on("all", reason="incident 7")
    # Then the other refuses at once, though its cache would last for years
    with pytest.raises(SwitchedOffError, match="'all' is on"):
        there.check(url="https://example.com/a", what="message")
    # And when it is turned off there, here accepts again
    there.turn_off("all")
    here.check(url="https://example.com/a", what="message")


def test_while_the_counter_stays_put_the_store_is_read_once(store: CountingStore) -> None:
    # Given kill switches whose counter nothing moves
    switches = _switches(store, SharedCounter(multiprocessing.get_context("spawn")))
    # When they are checked a hundred times
    for _ in range(100):
        switches.check(url="https://example.com/a", what="message")
    # Then the store was read once
    assert store.reads == 1


def _bump(counter: SharedCounter) -> None:
    counter.bump()


def test_a_bump_in_a_spawned_process_is_read_in_its_parent() -> None:
    # Given a counter made before a process is spawned with it
    context = multiprocessing.get_context("spawn")
    counter = SharedCounter(context)
    before = counter.read()
    # When the child bumps it
    child = context.Process(target=_bump, args=(counter,))
    child.start()
    child.join(30)
    # Then the parent reads the new value
    assert child.exitcode == 0
    assert counter.read() == before + 1
