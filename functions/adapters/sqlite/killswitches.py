"""Kill switches on the embedded engine: one row per switch that is on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.adapters.sqlite.codec import from_us, to_us
from functions.ports import KillSwitch

if TYPE_CHECKING:
    from datetime import datetime

    from functions.adapters.sqlite.db import Database


@dataclass
class SqliteKillSwitchStore:
    db: Database

    def all(self) -> list[KillSwitch]:
        with self.db.read() as db:
            rows = db.execute("SELECT scope, reason, set_at FROM kill_switches").fetchall()
        return [KillSwitch(scope, reason, from_us(at)) for scope, reason, at in rows]

    def turn_on(self, scope: str, *, reason: str | None, now: datetime) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO kill_switches (scope, reason, set_at) VALUES (?, ?, ?)",
                (scope, reason, to_us(now)),
            )

    def turn_off(self, scope: str) -> bool:
        with self.db.write() as tx:
            return bool(tx.execute("DELETE FROM kill_switches WHERE scope = ?", (scope,)).rowcount)
