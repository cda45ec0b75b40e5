"""The embedded backend of `duetime dev`: SQLite (stdlib sqlite3, WAL) for every store and an
in-process timer heap for the timer port. The same services run on it as on AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.adapters.sqlite.db import Database, open_database
from functions.adapters.sqlite.flows import SqliteFlowStore
from functions.adapters.sqlite.keys import SqliteKeys
from functions.adapters.sqlite.killswitches import SqliteKillSwitchStore
from functions.adapters.sqlite.messages import SqliteMessageStore
from functions.adapters.sqlite.queues import SqliteQueueStore
from functions.adapters.sqlite.scan import SqliteOverdueScan
from functions.adapters.sqlite.schedules import SqliteScheduleStore
from functions.adapters.sqlite.timers import LocalTimers
from functions.adapters.sqlite.topics import SqliteTopicStore
from functions.ports import Adapters, TimerPort

if TYPE_CHECKING:
    from functions.domain.signing import SigningKeys

__all__ = ["Database", "LocalTimers", "SqliteKeys", "open_database", "sqlite_adapters"]


def sqlite_adapters(
    db: Database, *, timers: TimerPort, keys: SigningKeys, tokens: tuple[str, ...] = ()
) -> Adapters:
    """Every port on one database; messages, schedules and steps share one timer heap.
    `keys` sign until the first rotation; `tokens` are the accepted API tokens."""
    messages = SqliteMessageStore(db)
    return Adapters(
        name="sqlite",
        messages=messages,
        schedules=SqliteScheduleStore(db),
        flows=SqliteFlowStore(db),
        kill_switches=SqliteKillSwitchStore(db),
        topics=SqliteTopicStore(db),
        queues=SqliteQueueStore(db),
        overdue=SqliteOverdueScan(db),
        timers=timers,
        step_timers=timers,
        keys=SqliteKeys(db, keys, tokens),
    )
