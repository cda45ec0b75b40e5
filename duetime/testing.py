"""A pytest fixture for your own test suite: a duetime dev server in process, on a free port,
with a clock that moves only when the test says so.

    # conftest.py
    pytest_plugins = ["duetime.testing"]

    # test_reminders.py
    def test_reminder_after_thirty_days(duetime_server):
        client = qstash.QStash(duetime_server.token, base_url=duetime_server.url)
        client.message.publish_json(url=my_app_url, body={...}, delay="30d")
        duetime_server.advance("30d")  # returns once the delivery has been answered
        ...

Publishes and reads go over HTTP like any client's; deliveries carry real signatures, dated
by the wall clock so `qstash.Receiver` verifies them. One server runs per process at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from functions.domain.durations import parse_duration
from functions.local.embedded import EmbeddedServer
from functions.ports import TimeTravel, Travelled


@dataclass
class DuetimeTestServer:
    """What a test needs of the server: where it is, its credentials, and its clock."""

    server: EmbeddedServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def current_signing_key(self) -> str:
        return self.server.graph.adapters.keys.signing_keys().current

    @property
    def next_signing_key(self) -> str:
        return self.server.graph.adapters.keys.signing_keys().next

    def now(self) -> datetime:
        return self._travel.now()

    def advance(self, by: str | timedelta) -> Travelled:
        """Move the clock on, firing everything due on the way, in order, at its time."""
        delta = by if isinstance(by, timedelta) else parse_duration(by, field="advance")
        return self._travel.advance(delta)

    def set_clock(self, to: datetime) -> Travelled:
        return self._travel.set(to)

    @property
    def _travel(self) -> TimeTravel:
        travel = self.server.graph.time_travel
        assert travel is not None  # noqa: S101 - started with a manual clock below
        return travel


@contextmanager
def running(*, start: datetime | None = None, workers: int = 8) -> Iterator[DuetimeTestServer]:
    """A fresh in-memory server whose clock stands at `start` (default: the wall time now)."""
    server = EmbeddedServer(
        port=0, clock_mode="manual", clock_start=start, workers=workers, recover_every_seconds=3600
    )
    server.start()
    try:
        yield DuetimeTestServer(server)
    finally:
        server.stop()


@pytest.fixture
def duetime_server() -> Iterator[DuetimeTestServer]:
    """A fresh in-memory duetime per test, its clock standing at the wall time it started."""
    with running() as server:
        yield server
