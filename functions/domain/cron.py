"""Recurring schedules: QStash's `Upstash-Cron` header, parsed and iterated. Pure: no I/O.

Syntax: standard 5-field Unix cron (minute hour day-of-month month day-of-week; numbers,
`*`, `,`, `-`, `/`, month and day names, `?` in the day fields), an optional
`CRON_TZ=Area/City ` (or `TZ=`) prefix, and the aliases @hourly, @daily/@midnight, @weekly,
@monthly, @yearly/@annually. When both day fields are restricted, either may match.

Time zones and daylight saving. The fields are matched against local wall-clock time in
the schedule's zone (UTC without a prefix), so `0 9 * * *` fires at 09:00 local all year
and its UTC time moves by an hour when the clocks change. Each matching local wall time
fires exactly once. A wall time that does not exist (skipped when the clocks spring
forward) fires once, shifted forward by the length of the gap: on a day when 02:00 jumps
to 03:00, 02:30 fires at 03:30. A wall time that occurs twice (the hour repeated when the
clocks fall back) fires once, at its first occurrence, and not again in the repeated hour:
an every-30-minutes job in America/New_York fires at 01:00 and 01:30 EDT and next at 02:00
EST, a 90-minute gap in UTC. Fire times are aware UTC, strictly increasing, and no instant
is ever returned twice (a shifted time that coincides with a real one fires once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, available_timezones

from functions.domain.clock import require_utc
from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from croniter import croniter


def preload() -> None:
    """Import croniter now (a long-lived server); otherwise it loads at the first cron."""
    import croniter  # noqa: F401, PLC0415


FIELD = "Upstash-Cron"
_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_RANGES = ("0-59", "0-23", "1-31", "1-12 or jan-dec", "0-7 or sun-sat")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_PREFIX = re.compile(r"(?:CRON_TZ|TZ)=(\S*)(.*)", re.DOTALL)
_DAY = timedelta(days=1)
_WALL_EPOCH = datetime(2000, 1, 1)  # noqa: DTZ001 - croniter works on naive wall times
_NOT_ZONES = frozenset({"localtime", "posixrules"})  # host-specific files, not IANA zones
# Only plain cron: croniter's extensions (L, W, #, H, R) are refused, R being random.
_ATOMS = (r"\d+", r"\d+", r"\d+", rf"\d+|{'|'.join(_MONTHS)}", rf"\d+|{'|'.join(_DAYS)}")
_RANGE = re.compile(r"(\w+)-(\w+)(?:/\d+)?", re.ASCII | re.IGNORECASE)


def _field_re(index: int) -> re.Pattern[str]:
    """The shape one field may take; croniter then checks the values."""
    atom = f"(?:{_ATOMS[index]})"
    item = rf"(?:\*|{atom}(?:-{atom})?)(?:/\d+)?"
    if index in (2, 4):
        item = rf"(?:\?|{item})"
    return re.compile(rf"{item}(?:,{item})*", re.ASCII | re.IGNORECASE)


_FIELD_RES = tuple(_field_re(i) for i in range(5))


def _invalid(problem: str) -> ValidationError:
    return ValidationError(f"{FIELD} {problem}")


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def _load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; host-specific keys such as `localtime` are refused."""
    if not name:
        raise _invalid("has an empty CRON_TZ= time zone")
    if name != "UTC" and name not in _zone_names():
        raise _invalid(f"names an unknown time zone {name!r} (expected an IANA name)")
    return ZoneInfo(name)


def _value(atom: str) -> int:
    """The number an atom stands for (`0-7` stays apart: it means every day)."""
    low = atom.lower()
    if low in _MONTHS:
        return _MONTHS.index(low) + 1
    if low in _DAYS:
        return _DAYS.index(low)
    return int(low)


def _for_croniter(expression: str) -> str:
    """Rewrite `N-N` to `N`: croniter reads an equal range as the whole field."""
    fields = expression.split()
    for i, field in enumerate(fields):
        items = field.split(",")
        for j, item in enumerate(items):
            m = _RANGE.fullmatch(item)
            if m and _value(m[1]) == _value(m[2]):
                items[j] = m[1]
        fields[i] = ",".join(items)
    return " ".join(fields)


def _check_fields(fields: list[str]) -> None:
    """Raise naming the first malformed field."""
    if len(fields) != 5:
        raise _invalid(
            f"must have exactly 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}; seconds and years are not supported"
        )
    from croniter import croniter  # noqa: PLC0415 - see _iterator

    for i, field in enumerate(fields):
        alone = " ".join(field if j == i else "*" for j in range(5))
        try:
            ok = _FIELD_RES[i].fullmatch(field) is not None and croniter.is_valid(
                _for_croniter(alone)
            )
        except ValueError:  # absurdly large numbers
            ok = False
        if not ok:
            raise _invalid(f"has an invalid {_NAMES[i]} field {field!r} (values {_RANGES[i]})")


def _offset(zone: tzinfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def _instant(wall: datetime, zone: tzinfo) -> datetime:
    """fold=0: a repeated wall time is its first occurrence, a skipped one moves past the gap."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _next(it: croniter[datetime], zone: tzinfo, after: datetime) -> datetime | None:
    """The earliest fire instant strictly after `after` (UTC), or None if croniter gives up."""
    from croniter import CroniterBadDateError  # noqa: PLC0415 - see CronSpec._iterator

    # Start one DST shift early so skipped wall times just behind `after` are seen.
    start = after + min(_offset(zone, after - _DAY), _offset(zone, after))
    it.set_current(start.replace(tzinfo=None))
    best: datetime | None = None
    reach = timedelta(0)  # largest offset near `best`: how far ahead a wall can still map earlier
    while True:
        try:
            wall = it.get_next(datetime)
        except (CroniterBadDateError, OverflowError):
            return best
        # A later wall time can map to an earlier instant only across a spring-forward gap.
        if best is not None and (wall - reach).replace(tzinfo=UTC) >= best:
            return best
        instant = _instant(wall, zone)
        if instant > after and (best is None or instant < best):
            best = instant
            reach = max(_offset(zone, best - _DAY), _offset(zone, best))


@dataclass(frozen=True)
class CronSpec:
    """A validated cron schedule in an IANA zone."""

    expression: str  # the 5 fields, normalised whitespace
    zone: str  # IANA zone name; "UTC" when no CRON_TZ prefix

    def __post_init__(self) -> None:
        _load_zone(self.zone)
        fields = self.expression.split()
        _check_fields(fields)
        object.__setattr__(self, "expression", " ".join(fields))
        from croniter import CroniterError  # noqa: PLC0415 - see _iterator

        try:  # a schedule that can never fire, such as 31 February, is a caller error
            self._iterator().get_next()
        except CroniterError as exc:
            raise _invalid(f"{self.expression!r} never fires") from exc

    @classmethod
    def parse(cls, text: str) -> CronSpec:
        """Parse an `Upstash-Cron` header value; ValidationError says what is wrong."""
        zone, rest = "UTC", text.strip()
        if m := _PREFIX.fullmatch(rest):
            zone, rest = m[1], m[2].strip()
        if not rest:
            raise _invalid("is empty: expected a cron expression such as '0 9 * * *'")
        if rest.startswith("@"):
            if rest.lower() not in _ALIASES:
                raise _invalid(f"{rest!r} is not supported; use 5 fields or @hourly..@yearly")
            rest = _ALIASES[rest.lower()]
        return cls(rest, zone)

    def _iterator(self) -> croniter[datetime]:
        # croniter loads at the first cron parsed, not at every cold start: most invocations
        # of the schedule and dispatch functions never read one.
        from croniter import croniter  # noqa: PLC0415

        # Naive wall times: croniter does plain calendar arithmetic, we handle DST.
        return croniter(_for_croniter(self.expression), _WALL_EPOCH, datetime)

    def next_after(self, after: datetime) -> datetime:
        """The first fire time strictly after `after`, aware UTC."""
        start = require_utc(after, field="after")
        found = _next(self._iterator(), ZoneInfo(self.zone), start)
        if found is None:
            raise _invalid(f"{self} has no fire time after {start.isoformat()}")
        return found

    def fires_between(
        self, start: datetime, end: datetime, *, limit: int = 10_000
    ) -> list[datetime]:
        """Fire times t with start < t <= end, aware UTC, ascending, at most `limit`."""
        t, stop = require_utc(start, field="start"), require_utc(end, field="end")
        it, zone, out = self._iterator(), ZoneInfo(self.zone), list[datetime]()
        while len(out) < limit:
            found = _next(it, zone, t)
            if found is None or found > stop:
                break
            out.append(found)
            t = found
        return out

    def __str__(self) -> str:
        return self.expression if self.zone == "UTC" else f"CRON_TZ={self.zone} {self.expression}"
