"""When to try again: QStash's default backoff, `Upstash-Retry-Delay` expressions, `Retry-After`.

A delay expression is caller input evaluated at publish and again at every retry, so its cost is
bounded by construction rather than by a clock: before anything is evaluated the parse tree must
be small (`MAX_NODES`), shallow (`MAX_DEPTH`) and made only of number literals no larger than
`MAX_LITERAL`, the name `retried`, the operators + - * / // % ** and unary -, and the functions in
`FUNCTIONS`. Evaluation then happens in floats only (so no big-integer arithmetic, which is what
made `4000000**4000000` take seconds: simpleeval's own MAX_POWER check lets an exponent of exactly
4000000 through), exponents are capped at `MAX_EXPONENT` and every intermediate value must stay
within `MAX_VALUE`. Each step is a single float operation and there are at most `MAX_NODES` of
them.
"""

from __future__ import annotations

import ast
import math
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import wraps
from typing import TYPE_CHECKING, Any

from simpleeval import (  # type: ignore[import-untyped]
    InvalidExpression,
    SimpleEval,
)

from functions.domain.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

MAX_BACKOFF = timedelta(days=1)

MAX_EXPRESSION_LENGTH = 256  # characters
MAX_NODES = 64  # numbers, names, operators and calls in the parse tree
MAX_DEPTH = 32  # levels of nesting of operators, unary minus and calls (not parentheses)
MAX_LITERAL = 10**9  # largest number written in an expression, in absolute value
MAX_EXPONENT = 64  # largest exponent of ** or pow(), in absolute value
MAX_VALUE = 1e300  # largest intermediate or final value, in absolute value
MAX_ROUND_DIGITS = 15  # round(x, n): |n| at most this

_VALUE_LIMIT = f"values are limited to ±{MAX_VALUE:g}"


class _LimitExceededError(ValueError):
    """An expression goes beyond one of the bounds above."""


def _numeric(fn: Callable[..., Any]) -> Callable[..., float]:
    """`fn` on floats only, its result a float within ±MAX_VALUE (or `_LimitExceededError`)."""

    @wraps(fn)
    def bounded(*args: Any) -> float:
        try:
            result = float(fn(*(float(a) for a in args)))
        except OverflowError as exc:
            raise _LimitExceededError(_VALUE_LIMIT) from exc
        if not abs(result) <= MAX_VALUE:  # also catches nan
            raise _LimitExceededError(_VALUE_LIMIT)
        return result

    return bounded


def _power(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT:
        raise _LimitExceededError(f"exponents are limited to ±{MAX_EXPONENT}")
    # math.pow: a float (or an error) even for a negative base and a fractional exponent.
    return math.pow(base, exponent)


def _round(x: float, ndigits: float = 0.0) -> float:
    if not ndigits.is_integer() or abs(ndigits) > MAX_ROUND_DIGITS:
        raise _LimitExceededError(
            f"round() takes a whole number of digits up to {MAX_ROUND_DIGITS}"
        )
    return round(x, int(ndigits))


_OPERATORS: dict[type[ast.operator | ast.unaryop], Callable[..., float]] = {
    ast.Add: _numeric(lambda a, b: a + b),
    ast.Sub: _numeric(lambda a, b: a - b),
    ast.Mult: _numeric(lambda a, b: a * b),
    ast.Div: _numeric(lambda a, b: a / b),
    ast.FloorDiv: _numeric(lambda a, b: a // b),
    ast.Mod: _numeric(lambda a, b: a % b),
    ast.Pow: _numeric(_power),
    ast.USub: _numeric(lambda a: -a),
}
FUNCTIONS: dict[str, Callable[..., float]] = {
    "pow": _numeric(_power),
    "sqrt": _numeric(math.sqrt),
    "abs": _numeric(abs),
    "exp": _numeric(math.exp),
    "floor": _numeric(math.floor),
    "ceil": _numeric(math.ceil),
    "round": _numeric(_round),
    "min": _numeric(min),
    "max": _numeric(max),
}
_ALLOWED = (
    "only numbers, `retried`, + - * / // % ** and unary -, and the functions "
    + ", ".join(FUNCTIONS)
    + " are allowed"
)


def _parse(expression: str) -> ast.expr:
    """The checked parse tree of `expression`, or `_LimitExceededError`/`SyntaxError`."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise _LimitExceededError(f"longer than {MAX_EXPRESSION_LENGTH} characters")
    tree = ast.parse(expression.strip(), mode="eval").body
    nodes = 0
    deepest = 0
    stack: list[tuple[ast.expr, int]] = [(tree, 1)]
    while stack:  # iterative: the tree's depth is what is being checked
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _LimitExceededError(f"more than {MAX_NODES} numbers, names and operators")
        deepest = max(deepest, depth)
        children: list[ast.expr]
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):  # str, None, 1j…
                raise _LimitExceededError(_ALLOWED)
            if not abs(value) <= MAX_LITERAL:
                raise _LimitExceededError(f"numbers are limited to ±{MAX_LITERAL}")
            children = []
        elif isinstance(node, ast.Name) and node.id == "retried":
            children = []
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            children = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            children = [node.operand]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS
            and not node.keywords
        ):
            children = node.args  # a Starred argument is rejected as a node of its own
        else:
            raise _LimitExceededError(_ALLOWED)
        stack.extend((child, depth + 1) for child in children)
    if deepest > MAX_DEPTH:
        raise _LimitExceededError(f"nested more than {MAX_DEPTH} levels deep")
    return tree


_DIGITS = re.compile(r"[0-9]{1,30}")


def _capped_seconds(seconds: int) -> timedelta:
    return timedelta(seconds=max(-1, min(seconds, int(MAX_BACKOFF.total_seconds()))))


def default_backoff(retry_number: int) -> timedelta:
    """QStash's default: min(86400, e^(2.5·n)) seconds before retry n (12 s, 2 m 28 s, 30 m, …)."""
    return timedelta(seconds=min(MAX_BACKOFF.total_seconds(), math.exp(2.5 * retry_number)))


def _evaluate(expression: str, tree: ast.expr, retried: int) -> float:
    # `tree` has passed _parse; simpleeval walks it with only the bounded operators, functions
    # and the name given here: no attribute access, no builtins, no eval().
    evaluator = SimpleEval(
        operators=_OPERATORS, functions=FUNCTIONS, names={"retried": float(retried)}
    )
    value = evaluator.eval(expression, previously_parsed=tree)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expression gives {type(value).__name__}, not a number")
    return float(value)


_EXPRESSION_ERRORS = (InvalidExpression, SyntaxError, TypeError, ValueError, ArithmeticError)


def validate_retry_delay(expression: str, *, field: str = "Upstash-Retry-Delay") -> str:
    """Reject an expression that does not evaluate to a non-negative number of milliseconds."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ValidationError(f"{field} is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = _parse(expression)
        samples = [_evaluate(expression, tree, retried) for retried in (0, 1, 5)]
    except _EXPRESSION_ERRORS as exc:
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
        millis = _evaluate(expression, _parse(expression), retried)
    except _EXPRESSION_ERRORS:
        # Validated at publish; a value that breaks later (overflow, a limit) falls back.
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
