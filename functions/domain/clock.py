"""The one clock. Every time inside duetime is timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from functions.domain.errors import ValidationError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def require_utc(value: datetime, *, field: str) -> datetime:
    """Normalise an aware datetime to UTC; a naive one is a caller error, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field} must carry a time zone (Z or an offset), got {value}")
    return value.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: datetime) -> int:
    """Unix milliseconds, the unit QStash's API uses for times (exact: no float rounding)."""
    return (require_utc(value, field="time") - _EPOCH) // timedelta(milliseconds=1)


def from_unix_seconds(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_iso(text: str, *, field: str) -> datetime:
    """Parse ISO 8601 with `Z` or an offset; naive input is rejected."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{field} is not an ISO 8601 time: {text!r}") from exc
    return require_utc(parsed, field=field)
