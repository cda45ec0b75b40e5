"""When to try again: QStash's default backoff, `Upstash-Retry-Delay` expressions, `Retry-After`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from simpleeval import (  # type: ignore[import-untyped]
    DEFAULT_OPERATORS,
    InvalidExpression,
    SimpleEval,
)

from functions.domain.errors import ValidationError

MAX_BACKOFF = timedelta(days=1)
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "pow": math.pow,
    "sqrt": math.sqrt,
    "abs": abs,
    "exp": math.exp,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "min": min,
    "max": max,
}


_DIGITS = re.compile(r"[0-9]{1,30}")


def _capped_seconds(seconds: int) -> timedelta:
    return timedelta(seconds=max(-1, min(seconds, int(MAX_BACKOFF.total_seconds()))))


def default_backoff(retry_number: int) -> timedelta:
    """QStash's default: min(86400, e^(2.5·n)) seconds before retry n (12 s, 2 m 28 s, 30 m, …)."""
    return timedelta(seconds=min(MAX_BACKOFF.total_seconds(), math.exp(2.5 * retry_number)))


def _evaluate(expression: str, retried: int) -> float:
    # simpleeval walks Python's own parse tree with only the names and functions given here:
    # no attribute access, no builtins, no eval().
    evaluator = SimpleEval(
        operators=DEFAULT_OPERATORS, functions=_FUNCTIONS, names={"retried": retried}
    )
    value = evaluator.eval(expression)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expression gives {type(value).__name__}, not a number")
    return float(value)


def validate_retry_delay(expression: str, *, field: str = "Upstash-Retry-Delay") -> str:
    """Reject an expression that does not evaluate to a non-negative number of milliseconds."""
    if len(expression) > 256:
        raise ValidationError(f"{field} is longer than 256 characters")
    try:
        samples = [_evaluate(expression, retried) for retried in (0, 1, 5)]
    except (InvalidExpression, SyntaxError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValidationError(
            f"{field} is not a valid delay expression ({exc}): {expression!r}"
        ) from exc
    if min(samples) < 0:
        raise ValidationError(f"{field} gives a negative delay: {expression!r}")
    return expression


def retry_delay(*, retried: int, expression: str | None) -> timedelta:
    """Delay before the next attempt; `retried` counts retries already made (0 before the first)."""
    if expression is None:
        return default_backoff(retried + 1)
    try:
        millis = _evaluate(expression, retried)
    except (InvalidExpression, SyntaxError, TypeError, ValueError, ArithmeticError):
        # Validated at publish; a value that breaks later (overflow) falls back to the default.
        return default_backoff(retried + 1)
    if not math.isfinite(millis):
        return MAX_BACKOFF if millis > 0 else timedelta(0)
    cap_ms = MAX_BACKOFF / timedelta(milliseconds=1)
    return timedelta(milliseconds=min(max(0.0, millis), cap_ms))


def server_requested_delay(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """`Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`, capped at 1 day."""
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    delay: timedelta | None = None
    retry_after = lowered.get("retry-after")
    if retry_after:
        if _DIGITS.fullmatch(retry_after):
            delay = _capped_seconds(int(retry_after))
        else:
            try:
                delay = parsedate_to_datetime(retry_after) - now
            except (TypeError, ValueError):
                delay = None
    reset = lowered.get("x-ratelimit-reset")
    if delay is None and reset and _DIGITS.fullmatch(reset):
        value = int(reset)
        # Some APIs send seconds-until-reset, others a unix time: a small number is the former.
        delay = _capped_seconds(value if value < 10**9 else int(value - now.timestamp()))
    if delay is None:
        return None
    return min(MAX_BACKOFF, max(timedelta(0), delay))
