"""Kill switches: one item per switch that is on, all in the `KILL` partition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import KillSwitchItem
from functions.ports import KillSwitch

if TYPE_CHECKING:
    from datetime import datetime

_PK = "KILL"


class KillSwitchStore:
    def all(self) -> list[KillSwitch]:
        """Every switch that is on."""
        with storage_errors("list kill switches"):
            return [
                KillSwitch(item.sk, item.reason, item.set_at)
                for item in KillSwitchItem.query(_PK, consistent_read=True)
            ]

    def turn_on(self, scope: str, *, reason: str | None, now: datetime) -> None:
        with storage_errors(f"kill switch {scope}"):
            KillSwitchItem(_PK, scope, reason=reason, set_at=now).save()

    def turn_off(self, scope: str) -> bool:
        existed = any(s.scope == scope for s in self.all())
        with storage_errors(f"kill switch {scope}"):
            KillSwitchItem(_PK, scope).delete()
        return existed
