"""Kill switches: one item per switch that is on, all in the `KILL` partition."""

from __future__ import annotations

from datetime import datetime

from functions.store.errors import storage_errors
from functions.store.models import KillSwitchItem

_PK = "KILL"


class KillSwitchStore:
    def all(self) -> dict[str, tuple[str | None, datetime]]:
        """Every switch that is on: scope → (reason, since)."""
        with storage_errors("list kill switches"):
            return {
                item.sk: (item.reason, item.set_at)
                for item in KillSwitchItem.query(_PK, consistent_read=True)
            }

    def turn_on(self, scope: str, *, reason: str | None, now: datetime) -> None:
        with storage_errors(f"kill switch {scope}"):
            KillSwitchItem(_PK, scope, reason=reason, set_at=now).save()

    def turn_off(self, scope: str) -> bool:
        existed = scope in self.all()
        with storage_errors(f"kill switch {scope}"):
            KillSwitchItem(_PK, scope).delete()
        return existed
