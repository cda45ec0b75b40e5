"""Upstash-Retry-Delay expressions cost a bounded amount of work, by construction (issue 12 item 5).

No timing asserts here (project rule): instead each bound is shown to reject before the costly
work, and every accepted expression is shown to satisfy the static bounds.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain import retry
from functions.domain.errors import ValidationError
from functions.domain.retry import (
    FUNCTIONS,
    MAX_BACKOFF,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_EXPRESSION_LENGTH,
    MAX_LITERAL,
    MAX_NODES,
    MAX_VALUE,
    default_backoff,
    retry_delay,
    validate_retry_delay,
)

FIELD = "Upstash-Retry-Delay"

NUMBER_LIMIT = "numbers are limited to ±1000000000"
EXPONENT_LIMIT = "exponents are limited to ±64"
VALUE_LIMIT = r"values are limited to ±1e\+300"
NODE_LIMIT = "more than 64 numbers, names and operators"
DEPTH_LIMIT = "nested more than 32 levels deep"
ONLY_ALLOWED = r"only numbers, `retried`, \+ - \* / // % \*\* and unary -"
ROUND_LIMIT = "round\\(\\) takes a whole number of digits up to 15"


def _nested(function: str, times: int) -> str:
    return f"{function}(" * times + "1" + ")" * times


def test_the_limits_are_the_documented_ones() -> None:
    assert (MAX_EXPRESSION_LENGTH, MAX_NODES, MAX_DEPTH) == (256, 64, 32)
    assert (MAX_LITERAL, MAX_EXPONENT, MAX_VALUE) == (10**9, 64, 1e300)


# --- the pathological cases are 400s naming the field and the limit --------------------------


@pytest.mark.parametrize(
    ("expression", "limit"),
    [
        # The reported one: simpleeval's MAX_POWER (4000000) let exactly this big-int power through.
        ("4000000**4000000", EXPONENT_LIMIT),
        ("3999999 ** 3999999", EXPONENT_LIMIT),
        ("pow(10, 10**9)", EXPONENT_LIMIT),
        ("9**9**9", EXPONENT_LIMIT),
        ("(10**9)**(10**9)", EXPONENT_LIMIT),
        ("2 ** 65", EXPONENT_LIMIT),
        ("2 ** -65", EXPONENT_LIMIT),
        ("pow(retried, 1000)", EXPONENT_LIMIT),
        ("retried ** (retried * 100)", EXPONENT_LIMIT),  # only at retried=1 and 5
        ("exp(1e6)", VALUE_LIMIT),
        ("exp(700)", VALUE_LIMIT),
        ("pow(1e9, 64)", VALUE_LIMIT),
        ("1e9 ** 34", VALUE_LIMIT),
        ("(1e9*1e9*1e9*1e9*1e9*1e9*1e9*1e9*1e9*1e9) ** 4", VALUE_LIMIT),
        ("1e9 // 1e-300", VALUE_LIMIT),
        ("retried * 1e308 * 1e308", NUMBER_LIMIT),
        ("1e400", NUMBER_LIMIT),
        ("1e400 - 1e400", NUMBER_LIMIT),  # would be nan
        ("1000000001", NUMBER_LIMIT),
        ("-1000000001", NUMBER_LIMIT),
        ("9" * 250, NUMBER_LIMIT),
        ("+".join(["1"] * 33), NODE_LIMIT),
        ("+".join(["retried"] * 31) + "*(1+1)", NODE_LIMIT),
        ("max(" + ",".join(["1"] * 64) + ")", NODE_LIMIT),
        (_nested("abs", 33), DEPTH_LIMIT),
        ("-" * 40 + "1", DEPTH_LIMIT),
        ("round(1.5, 10**9)", ROUND_LIMIT),
        ("round(5, -1000000000)", ROUND_LIMIT),  # int rounding would build 10**1000000000
        ("round(1.5, 0.5)", ROUND_LIMIT),
        ("1 << 60", ONLY_ALLOWED),
        ("1 >> 2", ONLY_ALLOWED),
        ("1 & 2", ONLY_ALLOWED),
        ("~1", ONLY_ALLOWED),
        ("+1", ONLY_ALLOWED),
        ("retried > 1", ONLY_ALLOWED),
        ("retried and 1", ONLY_ALLOWED),
        ("1 if retried else 2", ONLY_ALLOWED),
        ("[1, 2]", ONLY_ALLOWED),
        ("(1, 2)", ONLY_ALLOWED),
        ("'a' * 10", ONLY_ALLOWED),
        ("True", ONLY_ALLOWED),
        ("None", ONLY_ALLOWED),
        ("1j", ONLY_ALLOWED),
        ("...", ONLY_ALLOWED),
        ("retried.real", ONLY_ALLOWED),
        ("(lambda: 1)()", ONLY_ALLOWED),
        ("(x := 1)", ONLY_ALLOWED),
        ("max(*[1, 2])", ONLY_ALLOWED),
        ("abs(x=1)", ONLY_ALLOWED),
        ("unknown(1)", ONLY_ALLOWED),
        ("__import__('os')", ONLY_ALLOWED),
    ],
)
def test_over_limit_expressions_are_rejected_naming_the_field_and_the_limit(
    expression: str, limit: str
) -> None:
    assert len(expression) <= MAX_EXPRESSION_LENGTH
    with pytest.raises(ValidationError, match=f"^Step 2.retryDelay is not a valid .*{limit}") as e:
        validate_retry_delay(expression, field="Step 2.retryDelay")
    assert e.value.status_code == 400


@pytest.mark.parametrize(
    "expression",
    ["", "   ", "1 +", "1; 2", "(" * 10, "1 = 2", "\x00", "pow(2, retried, 3)", "sqrt(-1)"],
)
def test_malformed_expressions_are_rejected_naming_the_field(expression: str) -> None:
    with pytest.raises(ValidationError, match=f"^{FIELD} is not a valid delay expression"):
        validate_retry_delay(expression)


# --- …while expressions right at the limits still work ---------------------------------------


@pytest.mark.parametrize(
    ("expression", "millis"),
    [
        ("1000000000", 1e9),
        ("-1000000000 + 2 * 1000000000", 1e9),
        ("2 ** 64", 2.0**64),
        ("pow(2, -64) * 2 ** 64", 1.0),
        ("exp(690)", math.exp(690)),
        ("1e9 ** 33", 1e297),
        ("+".join(["1"] * 32), 32),  # 63 nodes
        (_nested("abs", 31), 1),  # 32 levels
        ("-" * 30 + "1", 1),  # 31 levels (an even number of minuses)
        ("(" * 120 + "retried + 1" + ")" * 120, 1),  # parentheses alone add no nodes
        ("round(1234.5678, 2)", 1234.57),
        ("round(1234.5678, -2)", 1200),
        ("floor(2.5 * 1000.7)", 2501),
        ("7 // 2 + 7 % 2", 4),
    ],
)
def test_expressions_at_the_limits_are_accepted(expression: str, millis: float) -> None:
    assert validate_retry_delay(expression) == expression
    cap = MAX_BACKOFF / timedelta(milliseconds=1)
    assert retry_delay(retried=0, expression=expression) == timedelta(milliseconds=min(millis, cap))


# --- at retry time a limit means the default backoff -----------------------------------------


@pytest.mark.parametrize(
    ("expression", "retried"),
    [
        ("pow(2, retried * 4)", 17),  # exponent 68: validated with retried 0, 1, 5 (exponent 20)
        ("exp(retried * 100)", 7),  # e^700 > 1e300
        ("4000000**4000000", 3),  # stored before the limits existed
        ("1e400", 0),
        ("+".join(["1"] * 40), 2),
        ("retried.__class__", 1),
    ],
)
def test_over_limit_at_retry_time_falls_back_to_the_default_backoff(
    expression: str, retried: int
) -> None:
    assert retry_delay(retried=retried, expression=expression) == default_backoff(retried + 1)


# --- by construction: bounds checked before work, floats only --------------------------------


@given(
    base=st.floats(-MAX_VALUE, MAX_VALUE),
    exponent=st.one_of(
        st.floats(min_value=MAX_EXPONENT, exclude_min=True),
        st.floats(max_value=-MAX_EXPONENT, exclude_max=True),
    ),
)
def test_a_large_exponent_is_refused_whatever_the_base(base: float, exponent: float) -> None:
    for power in (retry._OPERATORS[ast.Pow], FUNCTIONS["pow"]):
        with pytest.raises(ValueError, match=EXPONENT_LIMIT):
            power(base, exponent)


_BOUNDED = st.floats(-MAX_VALUE, MAX_VALUE)


@given(a=_BOUNDED, b=_BOUNDED)
def test_every_operator_gives_a_bounded_float_or_an_error(a: float, b: float) -> None:
    # Each step is one float operation on bounded floats: constant work, never a big integer.
    for node, operator in retry._OPERATORS.items():
        args = (a,) if node is ast.USub else (a, b)
        _bounded_float_or_error(operator, *args)


@given(a=_BOUNDED, b=_BOUNDED)
def test_every_function_gives_a_bounded_float_or_an_error(a: float, b: float) -> None:
    for function in FUNCTIONS.values():
        _bounded_float_or_error(function, a)
        _bounded_float_or_error(function, a, b)


def _bounded_float_or_error(function: Callable[..., float], *args: float) -> None:
    try:
        value = function(*args)
    except (TypeError, ValueError, ArithmeticError):
        return
    assert type(value) is float
    assert abs(value) <= MAX_VALUE


# --- any expression: a delay or a ValidationError naming the field ---------------------------

_LEAVES = st.one_of(
    st.just("retried"),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["4000000", "1e400", "1e-400", "True", "'a'", "9**9**9", "0"]),
)
_OPERATOR_TEXT = ["+", "-", "*", "/", "//", "%", "**", "<<", "&", "<", "and"]
_FUNCTION_NAMES = [*FUNCTIONS, "open", "__import__"]


def _expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(_OPERATOR_TEXT), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    call = st.tuples(
        st.sampled_from(_FUNCTION_NAMES), st.lists(children, min_size=1, max_size=3)
    ).map(lambda t: f"{t[0]}({', '.join(t[1])})")
    return st.one_of(binary, call, children.map(lambda c: f"-{c}"))


EXPRESSIONS = st.recursive(_LEAVES, _expressions, max_leaves=40)


def _counted_nodes(tree: ast.AST) -> int:
    nodes = list(ast.walk(tree))
    calls = sum(isinstance(n, ast.Call) for n in nodes)  # a call's function name is not counted
    return sum(isinstance(n, ast.expr) for n in nodes) - calls


def _depth(node: ast.AST) -> int:
    if isinstance(node, ast.Call):
        return 1 + max((_depth(a) for a in node.args), default=0)
    children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
    return 1 + max((_depth(c) for c in children), default=0)


def _assert_validates_or_names_the_field(expression: str) -> None:
    field = "X-Test-Field"
    error: ValidationError | None = None
    try:
        assert validate_retry_delay(expression, field=field) == expression
    except ValidationError as exc:
        error = exc
    if error is not None:
        assert str(error).startswith(f"{field} ")
        assert error.status_code == 400
        return
    # Accepted: the static bounds hold, and every retry gets a delay between 0 and a day.
    tree = ast.parse(expression.strip(), mode="eval").body
    assert len(expression) <= MAX_EXPRESSION_LENGTH
    assert _counted_nodes(tree) <= MAX_NODES
    assert _depth(tree) <= MAX_DEPTH
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            assert abs(node.value) <= MAX_LITERAL
    for retried in range(21):
        assert timedelta(0) <= retry_delay(retried=retried, expression=expression) <= MAX_BACKOFF


@given(expression=EXPRESSIONS)
def test_any_generated_expression_is_a_delay_or_a_validation_error(expression: str) -> None:
    _assert_validates_or_names_the_field(expression)


@given(
    expression=st.text(
        alphabet="0123456789 +-*/%().,e_retidpowsqrtabxflcunm<>&|~'", max_size=MAX_EXPRESSION_LENGTH
    )
)
def test_any_text_is_a_delay_or_a_validation_error(expression: str) -> None:
    _assert_validates_or_names_the_field(expression)
