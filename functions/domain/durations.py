"""The one place that parses QStash duration strings such as `10s`, `5m` or `1d10h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

from functions.domain.errors import ValidationError

# QStash's grammar is a sequence of <integer><unit> pairs, units d/h/m/s, each at most once and in
# that order. A bare integer means seconds (the SDKs turn ints into "<n>s", curl users send "10").
_DURATION = re.compile(
    r"^(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?$"
)
_MAX = timedelta(days=365 * 10)


def parse_duration(text: str, *, field: str) -> timedelta:
    """Parse `10s`, `5m`, `2h`, `1d10h30m` or a bare number of seconds."""
    value = text.strip()
    if len(value) > 32:
        raise ValidationError(f"{field} is too long: {text[:40]!r}...")
    if re.fullmatch(r"[0-9]+", value):
        return _bounded(_delta(seconds=int(value)), text, field)
    match = _DURATION.match(value)
    if not value or match is None or not any(match.groupdict().values()):
        raise ValidationError(
            f"{field} must be a duration like 10s, 5m, 2h or 1d10h30m, got {text!r}"
        )
    parts = {unit: int(amount) for unit, amount in match.groupdict().items() if amount}
    delta = _delta(
        seconds=parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("m", 0) * 60
        + parts.get("s", 0)
    )
    return _bounded(delta, text, field)


def _delta(*, seconds: int) -> timedelta:
    # Anything past the 10-year bound is refused anyway; cap before timedelta can overflow.
    return timedelta(seconds=min(seconds, int(_MAX.total_seconds()) + 1))


def _bounded(delta: timedelta, text: str, field: str) -> timedelta:
    if delta > _MAX:
        raise ValidationError(f"{field} is longer than 10 years: {text!r}")
    return delta
