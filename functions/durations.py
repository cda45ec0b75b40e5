"""The one place that parses QStash duration strings such as `10s`, `5m` or `1d10h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

from functions.errors import ValidationError

# QStash's grammar is a sequence of <integer><unit> pairs, units d/h/m/s, each at most once and in
# that order. A bare integer means seconds (the SDKs turn ints into "<n>s", curl users send "10").
_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_MAX = timedelta(days=365 * 10)


def parse_duration(text: str, *, field: str) -> timedelta:
    """Parse `10s`, `5m`, `2h`, `1d10h30m` or a bare number of seconds."""
    value = text.strip()
    if value.isdigit():
        return _bounded(timedelta(seconds=int(value)), text, field)
    match = _DURATION.match(value)
    if not value or match is None or not any(match.groupdict().values()):
        raise ValidationError(
            f"{field} must be a duration like 10s, 5m, 2h or 1d10h30m, got {text!r}"
        )
    parts = {unit: int(amount) for unit, amount in match.groupdict().items() if amount}
    delta = timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )
    return _bounded(delta, text, field)


def _bounded(delta: timedelta, text: str, field: str) -> timedelta:
    if delta > _MAX:
        raise ValidationError(f"{field} is longer than 10 years: {text!r}")
    return delta
