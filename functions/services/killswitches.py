"""Kill switches: stop all new arming (`all`), or that of one route (flows by id prefix, a URL
prefix, a schedule, a queue), at run time, without a deploy. What is already armed still runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.domain.clock import Clock, to_ms
from functions.domain.killswitches import SwitchedOffError, blocking, validate_scope

if TYPE_CHECKING:
    from datetime import datetime

    from functions.ports import ChangeCounter, KillSwitch, KillSwitchStore


@dataclass
class KillSwitches:
    """The switches that are on, read at most every `cache_seconds` per execution environment
    (a read per publish would cost as much as the publish); a switch set through this instance
    takes effect here at once. With `changes` (several processes on one store), the cache holds
    exactly as long as that counter stays put, and every change here moves it."""

    store: KillSwitchStore
    clock: Clock
    cache_seconds: float = 5.0
    changes: ChangeCounter | None = None
    _cached: dict[str, KillSwitch] | None = None
    _read_at: datetime | None = None
    _seen: int | None = None

    def current(self) -> dict[str, KillSwitch]:
        if self.changes is not None:
            # Read before the store: a change committed after this read moves it again.
            seen = self.changes.read()
            if self._cached is None or seen != self._seen:
                self._cached = {s.scope: s for s in self.store.all()}
                self._seen = seen
            return self._cached
        now = self.clock()
        stale = self._read_at is None or (now - self._read_at).total_seconds() > self.cache_seconds
        if self._cached is None or stale:
            self._cached = {s.scope: s for s in self.store.all()}
            self._read_at = now
        return self._cached

    def check(
        self,
        *,
        flow_id: str | None = None,
        url: str | None = None,
        queue: str | None = None,
        what: str,
    ) -> None:
        """Raise SwitchedOffError naming the switch that forbids arming `what`."""
        scope = blocking(frozenset(self.current()), flow_id=flow_id, url=url, queue=queue)
        if scope is not None:
            raise SwitchedOffError(f"kill switch {scope!r} is on: no new {what} is armed")

    def blocks(
        self,
        *,
        flow_id: str | None = None,
        url: str | None = None,
        schedule_id: str | None = None,
        queue: str | None = None,
    ) -> str | None:
        return blocking(
            frozenset(self.current()),
            flow_id=flow_id,
            url=url,
            schedule_id=schedule_id,
            queue=queue,
        )

    def turn_on(self, scope: str, *, reason: str | None) -> None:
        self.store.turn_on(validate_scope(scope), reason=reason, now=self.clock())
        self._changed()

    def turn_off(self, scope: str) -> bool:
        turned = self.store.turn_off(validate_scope(scope))
        self._changed()
        return turned

    def _changed(self) -> None:
        # After the store has the change, so whoever sees the counter move reads it.
        if self.changes is not None:
            self.changes.bump()
        self._cached = None

    def view(self) -> list[dict[str, Any]]:
        return [
            {"scope": s.scope, "reason": s.reason, "since": to_ms(s.since)}
            for _, s in sorted(self.current().items())
        ]
