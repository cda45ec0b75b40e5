"""The embedded backend of `duetime dev`: SQLite (stdlib sqlite3, WAL) for every store and an
in-process timer heap for the timer port. The same services run on it as on AWS."""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.adapters.sqlite.db import Database, open_database
from functions.adapters.sqlite.flows import SqliteFlowStore
from functions.adapters.sqlite.killswitches import SqliteKillSwitchStore
from functions.adapters.sqlite.messages import SqliteMessageStore
from functions.adapters.sqlite.scan import SqliteOverdueScan
from functions.adapters.sqlite.schedules import SqliteScheduleStore
from functions.adapters.sqlite.timers import LocalTimers
from functions.domain.auth import hash_token
from functions.domain.signing import SigningKeys
from functions.ports import Adapters

__all__ = ["Database", "LocalTimers", "StaticKeys", "open_database", "sqlite_adapters"]


@dataclass
class StaticKeys:
    """Keys and tokens given at start (the dev server's flags), held in memory."""

    keys: SigningKeys
    tokens: tuple[str, ...] = field(default=())

    def signing_keys(self) -> SigningKeys:
        return self.keys

    def token_hashes(self) -> tuple[str, ...]:
        return tuple(hash_token(t) for t in self.tokens)


def sqlite_adapters(db: Database, *, timers: LocalTimers, keys: StaticKeys) -> Adapters:
    """Every port on one database; messages, schedules and steps share one timer heap."""
    messages = SqliteMessageStore(db)
    return Adapters(
        name="sqlite",
        messages=messages,
        schedules=SqliteScheduleStore(db),
        flows=SqliteFlowStore(db),
        kill_switches=SqliteKillSwitchStore(db),
        overdue=SqliteOverdueScan(db),
        timers=timers,
        step_timers=timers,
        keys=keys,
    )
