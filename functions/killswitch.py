"""Kill switches: stop all new arming (`all`) or that of flows whose id starts with a prefix
(`flows:<prefix>`), at run time, without a deploy. What is already armed still runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.clock import Clock, to_ms
from functions.errors import DuetimeError, ValidationError
from functions.store.killswitches import KillSwitchStore

ALL = "all"
_FLOWS = re.compile(r"flows:[A-Za-z0-9_.:-]{0,128}")


class SwitchedOffError(DuetimeError):
    """503: a kill switch forbids arming new work."""

    status_code = 503


def validate_scope(scope: str) -> str:
    if scope == ALL or _FLOWS.fullmatch(scope):
        return scope
    raise ValidationError(f"kill switch scope must be 'all' or 'flows:<prefix>', got {scope!r}")


def blocking(scopes: frozenset[str], *, flow_id: str | None = None) -> str | None:
    """The switch that blocks new work (for a flow when `flow_id` is given), if any is on."""
    if ALL in scopes:
        return ALL
    if flow_id is not None:
        for scope in sorted(scopes):
            if scope.startswith("flows:") and flow_id.startswith(scope.removeprefix("flows:")):
                return scope
    return None


@dataclass
class KillSwitches:
    """The switches that are on, read at most every `cache_seconds` per execution environment
    (a read per publish would cost as much as the publish); a switch set through this instance
    takes effect here at once."""

    store: KillSwitchStore
    clock: Clock
    cache_seconds: float = 5.0
    _cached: dict[str, tuple[str | None, datetime]] | None = None
    _read_at: datetime | None = None

    def current(self) -> dict[str, tuple[str | None, datetime]]:
        now = self.clock()
        stale = self._read_at is None or (now - self._read_at).total_seconds() > self.cache_seconds
        if self._cached is None or stale:
            self._cached = self.store.all()
            self._read_at = now
        return self._cached

    def check(self, *, flow_id: str | None = None, what: str) -> None:
        """Raise SwitchedOffError naming the switch that forbids arming `what`."""
        scope = blocking(frozenset(self.current()), flow_id=flow_id)
        if scope is not None:
            raise SwitchedOffError(f"kill switch {scope!r} is on: no new {what} is armed")

    def blocks(self, *, flow_id: str | None = None) -> str | None:
        return blocking(frozenset(self.current()), flow_id=flow_id)

    def turn_on(self, scope: str, *, reason: str | None) -> None:
        self.store.turn_on(validate_scope(scope), reason=reason, now=self.clock())
        self._cached = None

    def turn_off(self, scope: str) -> bool:
        turned = self.store.turn_off(validate_scope(scope))
        self._cached = None
        return turned

    def view(self) -> list[dict[str, Any]]:
        return [
            {"scope": scope, "reason": reason, "since": to_ms(since)}
            for scope, (reason, since) in sorted(self.current().items())
        ]
