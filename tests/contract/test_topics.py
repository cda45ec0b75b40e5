"""TopicStore: URL groups saved, read, listed and deleted, every write a compare-and-set."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.domain.topics import Endpoint, Topic, upserted
from functions.ports import Adapters, ConditionFailedError
from tests.contract.builders import T0, at

A = Endpoint("https://a.example/hook", "a")
B = Endpoint("https://b.example/hook")


def _group(name: str = "orders", *endpoints: Endpoint, version: int = 0) -> Topic:
    return Topic(name, endpoints or (A,), created_at=T0, updated_at=at(version))


def test_a_saved_group_reads_back_and_is_listed(backend: Adapters) -> None:
    assert backend.topics.get("orders") is None
    group = _group("orders", A, B)
    backend.topics.save(group, previous=None)
    backend.topics.save(_group("audit"), previous=None)
    assert backend.topics.get("orders") == group
    assert [t.name for t in sorted(backend.topics.all(), key=lambda t: t.name)] == [
        "audit",
        "orders",
    ]


def test_creating_a_group_that_exists_is_a_failed_condition(backend: Adapters) -> None:
    backend.topics.save(_group(), previous=None)
    with pytest.raises(ConditionFailedError):
        backend.topics.save(_group("orders", B), previous=None)
    assert backend.topics.get("orders") == _group()


def test_a_write_from_a_stale_read_is_refused_and_changes_nothing(backend: Adapters) -> None:
    first = _group()
    backend.topics.save(first, previous=None)
    second = upserted(first, "orders", [B], now=at(1))
    backend.topics.save(second, previous=first)
    # A writer that still holds `first` loses, for a save and for a delete alike
    with pytest.raises(ConditionFailedError):
        backend.topics.save(upserted(first, "orders", [B], now=at(2)), previous=first)
    with pytest.raises(ConditionFailedError):
        backend.topics.delete("orders", previous=first)
    assert backend.topics.get("orders") == second
    backend.topics.delete("orders", previous=second)
    assert backend.topics.get("orders") is None
    assert backend.topics.all() == []


def test_of_racing_creates_exactly_one_wins(backend: Adapters) -> None:
    def create(n: int) -> bool:
        try:
            backend.topics.save(_group("race", Endpoint(f"https://{n}.example/")), previous=None)
        except ConditionFailedError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        wins = sum(pool.map(create, range(20)))
    assert wins == 1
    stored = backend.topics.get("race")
    assert stored is not None
    assert len(stored.endpoints) == 1
