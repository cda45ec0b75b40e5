"""Hypothesis strategies for duetime's inputs: header values as HTTP can carry them, durations,
URLs and raw publish paths, cron expressions, retry-delay expressions, publish header sets and
flow definitions. Each mixes well-formed values with near misses and arbitrary text.

Text that arrives in HTTP headers or paths never holds a lone surrogate (the dev gateway
decodes latin-1, API Gateway UTF-8), so those strategies exclude them; JSON bodies can escape
one (`"\\ud800"`), so `json_text` includes them.
"""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from functions.domain.publish import MAX_RETRIES

# --- text ------------------------------------------------------------------------------------

# Any Unicode scalar value: what a UTF-8 (or latin-1) decoded header or path can hold.
unicode_chars = st.characters(codec="utf-8")
# JSON strings may also hold lone surrogates.
json_chars = st.characters(exclude_categories=())

TRICKY_VALUES = (
    "",
    " ",
    "\t",
    " lead",
    "trail ",
    "a\r\nb",
    "a\nb",
    "a\rb",
    "a\0b",
    "a\x0bb",
    "a\x0cb",
    "a\x1cb",
    "a\x7fb",
    "é",
    "ā",
    "日本語",
    "a\u2028b",
    "\x85",
    "v" * 300,
)

header_values = st.one_of(
    st.sampled_from(TRICKY_VALUES),
    st.text(unicode_chars, max_size=24),
    st.text(string.printable, max_size=24),
)

TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
header_names = st.one_of(
    st.text(TOKEN_CHARS, min_size=1, max_size=16),
    st.sampled_from(
        [
            "X-Tenant",
            "Content-Type",
            "Authorization",
            "",
            "a b",
            "x:y",
            "x(y)",
            "é",
            "Content-Length",
            "Host",
            "Transfer-Encoding",
            "Upstash-Signature",
            "webhook-id",
            "Idempotency-Key",
        ]
    ),
    st.text(unicode_chars, max_size=8),
)

json_text = st.one_of(
    st.text(json_chars, max_size=16),
    st.sampled_from(["", " ", "\ud800", "a\udc00b", "ok", "x" * 600]),
)

# --- durations -------------------------------------------------------------------------------


def format_duration(delta: timedelta) -> str:
    """QStash's canonical spelling of a whole-second duration: `1d10h30m5s`, `0s` for none."""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


@st.composite
def _unit_durations(draw: st.DrawFn) -> str:
    parts = [
        (draw(st.none() | st.integers(0, 4000)), "d"),
        (draw(st.none() | st.integers(0, 100_000)), "h"),
        (draw(st.none() | st.integers(0, 10**7)), "m"),
        (draw(st.none() | st.integers(0, 10**9)), "s"),
    ]
    return "".join(f"{n}{unit}" for n, unit in parts if n is not None)


durations = st.one_of(
    _unit_durations(),
    st.integers(0, 10**10).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "10S",
            "1h1d",
            "1d1d",
            "-5s",
            "5 s",
            " 10s ",
            "1.5s",
            "\u0663s",  # an Arabic-Indic digit
            "9" * 40,
            "99999999999d",
            "3650d",
            "3651d",
            "10s\n",
            "soon",
        ]
    ),
    st.text(unicode_chars, max_size=12),
    st.from_regex(r"[0-9dhms \t]{0,12}", fullmatch=True),
)

# --- URLs and publish paths ------------------------------------------------------------------

_hosts = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "api.example.org",
            "EXAMPLE.com",
            "127.0.0.1",
            "10.1.2.3",
            "[::1]",
            "[2001:db8::1]",
            "xn--bcher-kva.example",
            "bücher.example",
            "localhost",
            "",
            "[",
            "a]",
            "user:pw@example.com",
        ]
    ),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.text(unicode_chars, max_size=8),
)
_ports = st.one_of(
    st.just(""),
    st.integers(1, 65535).map(lambda p: f":{p}"),
    st.sampled_from([":0", ":65536", ":99999", ":x", ":", ":-1"]),
)
_path_chars = st.sampled_from([*list("abcxyz019/-._~%?#=&+;:@! "), "//", "%2F", "%20", "é", "日"])
paths = st.lists(_path_chars, max_size=12).map("".join)
schemes = st.sampled_from(
    [
        "https://",
        "http://",
        "HTTPS://",
        "https:/",
        "http:/",
        "https%3A%2F%2F",
        "https%3a//",
        "http%3A%2F%2F",
        "ftp://",
        "",
        "https//",
        "javascript:",
    ]
)
raw_tails = st.one_of(
    st.builds(lambda s, h, p, path: f"{s}{h}{p}{path}", schemes, _hosts, _ports, paths),
    st.text(unicode_chars, max_size=30),
)

TOKEN_SPELLINGS = (
    "qstash_token",
    "QSTASH_TOKEN",
    "Qstash_Token",
    "qstash%5Ftoken",
    "qstash%5ftoken",
    "%71stash_token",
    "%20qstash_token",
    "qstash_token%20",
)
_query_names = st.one_of(
    st.sampled_from([*TOKEN_SPELLINGS, "a", "id", "x", "qstash", "token", "qstash_tokens"]),
    st.text(string.ascii_letters + "%_+", min_size=1, max_size=8),
)
_query_values = st.text(string.ascii_letters + string.digits + "%+-_.~=:/", max_size=10)
query_parts = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", _query_names, _query_values),
    _query_names,
    st.just(""),
)
raw_queries = st.lists(query_parts, max_size=5).map("&".join)

# Destinations that the rebuild accepts, for the tests that need an accepted one.
good_hosts = st.one_of(
    st.sampled_from(["example.com", "api.example.org", "127.0.0.1", "[2001:db8::1]"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}\.(com|org|example)", fullmatch=True),
)
good_paths = st.lists(st.sampled_from([*list("abc019-._~"), "/", "//", "%20", "%2F"]), max_size=10)
good_urls = st.builds(
    lambda s, h, p, path: f"{s}{h}{p}/{''.join(path)}",
    st.sampled_from(["https://", "http://"]),
    good_hosts,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    good_paths,
)

# --- cron ------------------------------------------------------------------------------------

_MONTHS = ["jan", "FEB", "mar", "Dec"]
_DAYS = ["sun", "MON", "fri", "Sat"]


def _cron_field(low: int, high: int, names: list[str] | None, question: bool) -> Any:
    number = st.integers(low, high) | st.integers(low - 2, high + 3)
    atom = number.map(str) | (st.sampled_from(names) if names else number.map(str))
    item = st.one_of(
        st.just("*"),
        atom,
        st.builds(lambda a, b: f"{a}-{b}", atom, atom),
        st.builds(lambda a, n: f"{a}/{n}", st.just("*") | atom, st.integers(0, high + 2)),
        st.builds(lambda a, b, n: f"{a}-{b}/{n}", atom, atom, st.integers(1, high)),
        st.sampled_from(["?"] if question else ["L"]),
    )
    return st.lists(item, min_size=1, max_size=3).map(",".join)


_cron_fields = st.tuples(
    _cron_field(0, 59, None, question=False),
    _cron_field(0, 23, None, question=False),
    _cron_field(1, 31, None, question=True),
    _cron_field(1, 12, _MONTHS, question=False),
    _cron_field(0, 7, _DAYS, question=True),
).map(" ".join)
ZONES = (
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Nowhere/City",
    "localtime",
    "",
    "utc",
    "../etc/passwd",
)
cron_texts = st.one_of(
    _cron_fields,
    st.builds(
        lambda prefix, zone, fields: f"{prefix}={zone} {fields}",
        st.sampled_from(["CRON_TZ", "TZ"]),
        st.sampled_from(ZONES),
        _cron_fields,
    ),
    st.sampled_from(
        [
            "@hourly",
            "@daily",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "@midnight",
            "@reboot",
            "@every 5m",
            "",
            "* * * *",
            "* * * * * *",
            "0 0 31 2 *",
            "0 0 29 2 1",
            "0 2 * * *",
            "30 1 * * *",
            "*/30 * * * *",
            "H * * * *",
            "0 0 L * *",
            "0 0 1W * *",
            "0 0 * * 1#2",
            "R * * * *",
            "99999999999999999999 * * * *",
        ]
    ),
    st.text(unicode_chars, max_size=20),
)

# --- retry-delay expressions -----------------------------------------------------------------

_leaves = st.one_of(
    st.just("retried"),
    st.integers(-(10**9), 10**9).map(str),
    st.floats(0, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["1e9", "1e10", "10**9", "0", "0.5", "True", "None", "'a'", "x", "1j"]),
)


def _expressions(children: Any) -> Any:
    binary = st.builds(
        lambda a, op, b: f"({a}{op}{b})",
        children,
        st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<<", "&", "<", " and "]),
        children,
    )
    call = st.builds(
        lambda fn, args: f"{fn}({', '.join(args)})",
        st.sampled_from(
            ["pow", "sqrt", "abs", "exp", "floor", "ceil", "round", "min", "max", "eval", "len"]
        ),
        st.lists(children, min_size=0, max_size=3),
    )
    return st.one_of(binary, call, children.map(lambda e: f"-{e}"))


retry_delays = st.one_of(
    st.recursive(_leaves, _expressions, max_leaves=24),
    st.sampled_from(
        [
            "1000",
            "1000 * (1 + retried)",
            "pow(2, retried) * 1000",
            "retried ** 64",
            "retried ** 65",
            "9**9**9**9",
            "4000000**4000000",
            "10**1000",
            "exp(1000)",
            "-1",
            "1/0",
            "0/0",
            "round(1.5, 100)",
            "pow(-8, 1/3)",
            "__import__('os')",
            "().__class__",
            "lambda: 1",
            "[1][0]",
            "(" * 40 + "1" + ")" * 40,
            "-" * 40 + "1",
            "+".join(["1"] * 70),
            "",
            " ",
            "1" * 300,
        ]
    ),
    st.text(unicode_chars, max_size=20),
)

# --- publish headers -------------------------------------------------------------------------

retries_text = st.one_of(
    st.integers(0, MAX_RETRIES).map(str),
    st.sampled_from(["21", "-1", "", " 3 ", "\x1c3", "3\x1f", "1_0", "+3", "\u0663", "3.0", "999"]),
    st.text(unicode_chars, max_size=6),
)
timeouts_text = st.one_of(
    st.integers(1, 30).map(lambda n: f"{n}s"),
    st.integers(0, 40).map(str),
    durations,
)
methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "post", "Get"]),
    st.sampled_from(["OPTIONS", "TRACE", "CONNECT", "", " POST"]),
    st.text(string.ascii_letters, max_size=7),
)
not_before_offsets = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(-(10**10), 10**10),
)


def publish_header_options(*, not_before_base: int) -> Any:
    """Optional Upstash-* headers of a publish request (values valid or not); forwarded
    headers come from `forwarded_headers`. `not_before_base`: unix seconds near "now"."""
    return st.fixed_dictionaries(
        {},
        optional={
            "Upstash-Delay": durations,
            "Upstash-Not-Before": st.one_of(
                not_before_offsets.map(lambda s: str(not_before_base + s)),
                st.text(unicode_chars, max_size=8),
            ),
            "Upstash-Method": methods,
            "Upstash-Timeout": timeouts_text,
            "Upstash-Retries": retries_text,
            "Upstash-Retry-Delay": retry_delays,
            "Upstash-Callback": st.one_of(good_urls, raw_tails),
            "Upstash-Failure-Callback": st.one_of(good_urls, raw_tails),
            "Upstash-Label": st.one_of(header_values, st.text("l", min_size=250, max_size=260)),
            "Upstash-Deduplication-Id": st.one_of(
                header_values, st.text("d", min_size=505, max_size=515)
            ),
            "Upstash-Content-Based-Deduplication": st.sampled_from(["true", "True", "false", ""]),
            "Content-Type": st.one_of(
                st.sampled_from(["application/json", "text/plain; charset=utf-8"]),
                header_values,
            ),
            "Upstash-Callback-Retries": retries_text,
            "Upstash-Callback-Timeout": timeouts_text,
            "Upstash-Callback-Delay": durations,
            "Upstash-Callback-Method": methods,
            "Upstash-Callback-Retry-Delay": retry_delays,
            "Upstash-Callback-Forward-X-Cb": header_values,
            "Upstash-Callback-X-Other": header_values,
            "Upstash-Failure-Callback-Retries": retries_text,
            "Upstash-Failure-Callback-Forward-X-Fcb": header_values,
        },
    )


forwarded_headers = st.dictionaries(
    header_names.map(lambda n: f"Upstash-Forward-{n}"), header_values, max_size=4
)


# --- flows -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | json_text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(json_text, c, max_size=3),
    max_leaves=6,
)

flow_ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:-]{1,20}", fullmatch=True),
    st.sampled_from(["", "a/b", "a#b", "x" * 129, "é"]),
)
_step_ids = st.one_of(st.sampled_from(["s1", "s2", "onboarding:1"]), flow_ids)

flow_steps = st.fixed_dictionaries(
    {"id": _step_ids, "destination": st.one_of(good_urls, raw_tails)},
    optional={
        "method": st.one_of(methods, json_values),
        "headers": st.one_of(
            st.dictionaries(header_names, header_values, max_size=3),
            st.dictionaries(json_text, json_text, max_size=2),
            json_values,
        ),
        "body": json_values,
        "delay": st.one_of(durations, json_values),
        "retries": st.one_of(st.integers(-1, MAX_RETRIES + 2), json_values),
        "expectStateToken": json_text,
        "setStateToken": json_text,
        "idempotencyKey": st.one_of(
            json_text, st.text("é", min_size=250, max_size=260), st.text("k", max_size=520)
        ),
        "retryDelay": st.one_of(retry_delays, json_values),
    },
)

flow_bodies = st.one_of(
    st.fixed_dictionaries(
        {"stateToken": json_text, "steps": st.lists(flow_steps, min_size=1, max_size=3)}
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "stateToken": st.one_of(json_text, json_values),
            "steps": st.one_of(st.lists(flow_steps, max_size=2), json_values),
        },
    ),
    st.none(),
)

_safe_text = st.text(
    string.ascii_letters + string.digits + ":_-. é", min_size=1, max_size=12
).filter(str.strip)
_safe_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(unicode_chars, max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=5,
)


@st.composite
def valid_flow_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Flow bodies the parser accepts (mostly): every optional field with a valid value."""
    count = draw(st.integers(1, 3))
    steps = []
    for n in range(count):
        step: dict[str, Any] = {"id": f"step-{n}", "destination": draw(good_urls)}
        optional = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "method": st.sampled_from(["GET", "POST", "put", "DELETE"]),
                    "headers": st.dictionaries(
                        st.text(TOKEN_CHARS, min_size=1, max_size=10).filter(
                            lambda k: k.lower() not in {"content-length", "host", "te"}
                        ),
                        st.text(string.ascii_letters + "é日 ", max_size=10).map(str.strip),
                        max_size=3,
                    ),
                    "body": _safe_json,
                    "delay": st.integers(0, 10**6).map(format_duration_seconds),
                    "retries": st.integers(0, MAX_RETRIES),
                    "expectStateToken": _safe_text,
                    "setStateToken": _safe_text,
                    "idempotencyKey": _safe_text,
                    "retryDelay": st.sampled_from(["1000", "1000 * pow(2, retried)"]),
                },
            )
        )
        step.update(optional)
        steps.append(step)
    return {"stateToken": draw(_safe_text), "steps": steps}


def format_duration_seconds(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))


def mostly(valid: Any, wild: Any) -> Any:
    """Three examples in four from `valid`, the rest from `wild`: for properties about what
    is accepted, which need accepted inputs, while still meeting the odd refused one."""
    return st.integers(0, 3).flatmap(lambda n: wild if n == 0 else valid)


valid_cron_texts = st.builds(
    lambda zone, fields: f"CRON_TZ={zone} {fields}" if zone else fields,
    st.sampled_from(["", "UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu"]),
    st.tuples(
        st.sampled_from(["*", "*/5", "0", "0-30/10", "15,45", "59"]),
        st.sampled_from(["*", "9", "0-23/6", "1-5", "2", "23"]),
        st.sampled_from(["*", "1", "15", "1-10", "?", "29"]),
        st.sampled_from(["*", "1-12", "jan", "6", "*/3", "2"]),
        st.sampled_from(["*", "mon-fri", "0", "1,3,5", "?", "7"]),
    ).map(" ".join),
) | st.sampled_from(["@hourly", "@daily", "@weekly", "@monthly", "@yearly"])

_writable_values = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n\0\v\f"), max_size=16
).map(lambda v: v.strip(" \t"))
_forwardable_names = st.text(TOKEN_CHARS, min_size=1, max_size=12).filter(
    lambda n: (
        n.lower()
        not in {"content-length", "transfer-encoding", "host", "connection", "keep-alive", "te"}
        | {"trailer", "upgrade", "expect", "proxy-connection", "upstash-signature", "webhook-id"}
        | {"upstash-message-id", "upstash-retried", "upstash-schedule-id", "idempotency-key"}
        | {"webhook-timestamp", "webhook-signature", "duetime-flow-id", "duetime-step-id"}
    )
)
valid_forwarded_headers = st.dictionaries(
    _forwardable_names.map(lambda n: f"Upstash-Forward-{n}"), _writable_values, max_size=4
)
VALID_RETRY_DELAYS = ("1000", "1000 * (1 + retried)", "pow(2, retried) * 500", "min(60000, 10)")


def valid_publish_headers(*, not_before_base: int, urls: Any = good_urls) -> Any:
    """Upstash-* headers of a publish request the parser accepts (each one optional)."""
    return st.fixed_dictionaries(
        {},
        optional={
            "Upstash-Delay": st.integers(0, 3 * 86400).map(format_duration_seconds),
            "Upstash-Not-Before": st.integers(-100, 10**6).map(lambda s: str(not_before_base + s)),
            "Upstash-Method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
            "Upstash-Timeout": st.integers(1, 30).map(lambda n: f"{n}s"),
            "Upstash-Retries": st.integers(0, MAX_RETRIES).map(str),
            "Upstash-Retry-Delay": st.sampled_from(VALID_RETRY_DELAYS),
            "Upstash-Callback": urls,
            "Upstash-Failure-Callback": urls,
            "Upstash-Label": st.text(unicode_chars, max_size=20),
            "Upstash-Deduplication-Id": st.text(unicode_chars, max_size=30),
            "Upstash-Content-Based-Deduplication": st.sampled_from(["true", "false"]),
            "Content-Type": st.sampled_from(["application/json", "text/plain; charset=utf-8"]),
            "Upstash-Callback-Retries": st.integers(0, 3).map(str),
            "Upstash-Callback-Timeout": st.integers(1, 30).map(lambda n: f"{n}s"),
            "Upstash-Callback-Delay": st.integers(0, 600).map(format_duration_seconds),
            "Upstash-Callback-Method": st.sampled_from(["POST", "PUT"]),
            "Upstash-Callback-Retry-Delay": st.sampled_from(VALID_RETRY_DELAYS),
            "Upstash-Callback-Forward-X-Cb": _writable_values,
            "Upstash-Failure-Callback-Retries": st.integers(0, 3).map(str),
            "Upstash-Failure-Callback-Forward-X-Fcb": _writable_values,
        },
    )


_WILD_STEP_FIELDS: dict[str, Any] = {
    "id": flow_ids,
    "destination": raw_tails,
    "method": st.one_of(methods, json_values),
    "headers": st.one_of(
        st.dictionaries(header_names, header_values, max_size=2),
        st.dictionaries(json_text, json_text, max_size=2),
        json_values,
    ),
    "body": json_values,
    "delay": st.one_of(durations, json_values),
    "retries": st.one_of(st.integers(-1, MAX_RETRIES + 2), json_values),
    "expectStateToken": st.one_of(json_text, json_values),
    "setStateToken": st.one_of(json_text, json_values),
    "idempotencyKey": st.one_of(
        json_text, st.text("é", min_size=250, max_size=260), st.text("k", max_size=520)
    ),
    "retryDelay": st.one_of(retry_delays, json_values),
}


@st.composite
def flow_bodies_one_field_off(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """An accepted flow body with one field (of the flow or of one step) replaced by an
    arbitrary value, and that field's path (`body.stateToken`, `steps[1].delay`): what a
    refusal of it must name."""
    body = draw(valid_flow_bodies())
    if draw(st.booleans()):
        body["stateToken"] = draw(st.one_of(json_text, json_values))
        return body, "body.stateToken"
    index = draw(st.integers(0, len(body["steps"]) - 1))
    field = draw(st.sampled_from(sorted(_WILD_STEP_FIELDS)))
    body["steps"][index][field] = draw(_WILD_STEP_FIELDS[field])
    return body, f"steps[{index}].{field}"
