"""The HTTP API as a whole, in process (the `schedule` handler on the embedded backend): no
generated request, on any route, is answered with a 5xx; a 4xx carries a JSON error message.

JSON bodies may escape a lone surrogate, which no store can encode: every JSON route refuses
one with a 400 (api/common.py json_body); before that, five routes answered 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions import wiring
from functions.adapters.sqlite import LocalTimers, open_database, sqlite_adapters
from functions.config import Settings
from functions.local.defaults import DEV_SIGNING_KEYS as KEYS
from functions.local.defaults import DEV_TOKEN as TOKEN
from tests.helpers.api import ApiResponse, call
from tests.property.strategies import (
    header_values,
    json_values,
    raw_queries,
    unicode_chars,
    valid_flow_bodies,
)
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples

pytestmark = QUIET_SYNTAX_WARNINGS

ANSWERS = {200, 201, 202, 400, 404, 405, 409, 413}


@pytest.fixture(scope="module")
def api() -> Iterator[None]:
    """The handler served from an embedded graph (timers never started: nothing is sent)."""
    db = open_database(None)
    timers = LocalTimers(workers=1)
    adapters = sqlite_adapters(db, timers=timers, keys=KEYS, tokens=(TOKEN,))
    wiring.install(wiring.build(Settings(dev_mode=True), adapters))
    try:
        yield
    finally:
        wiring.install(None)
        timers.stop()
        db.close()


def _answered(response: ApiResponse) -> None:
    assert response.status in ANSWERS or (
        # a kill switch a generated request turned on refuses new work by design
        response.status == 503 and str(response.json.get("error", "")).startswith("kill switch")
    ), response
    if response.status >= 400:
        assert isinstance(response.json["error"], str)
        assert response.json["error"]


ROUTES = (
    ("POST", "/v2/publish/"),
    ("GET", "/v2/messages/"),
    ("DELETE", "/v2/messages/"),
    ("DELETE", "/v2/messages"),
    ("GET", "/v2/events"),
    ("GET", "/v2/logs"),
    ("GET", "/v2/dlq"),
    ("GET", "/v2/dlq/"),
    ("DELETE", "/v2/dlq"),
    ("POST", "/v2/dlq/retry"),
    ("POST", "/v2/schedules/"),
    ("GET", "/v2/schedules/"),
    ("PATCH", "/v2/schedules/"),
    ("POST", "/v2/flows/"),
    ("GET", "/v2/flows/"),
    ("PUT", "/v2/flows/"),
    ("DELETE", "/v2/flows/"),
    ("PUT", "/v2/kill-switches/"),
    ("DELETE", "/v2/kill-switches/"),
    ("GET", "/v2/stats"),
    ("PUT", "/v2/keys"),
)
# The tail of the path: a destination, an id, an id with an action.
tails = st.one_of(
    st.sampled_from(
        [
            "https://example.com/a",
            "http:/example.com/p?x",
            "https%3A%2F%2Fexample.com%2Fa",
            "msg_x",
            "f1",
            "f1/state",
            "f1/log",
            "f1/steps/s1/run",
            "sched-1/pause",
            "sched-1/resume",
            "all",
            "flows:on",
            "",
        ]
    ),
    st.text(st.characters(codec="latin-1", exclude_characters="?#"), max_size=20),
)
queries = st.one_of(
    raw_queries,
    st.sampled_from(
        [
            "cursor=abc",
            "cursor=MjAyNCNh",
            "count=0",
            "count=x",
            "count=5",
            "fromDate=1",
            "state=X",
            "state=DELIVERED",
            "messageIds=a,b",
            "dlqIds=a",
            "url=x",
            "label=",
            "qstash_token=z",
        ]
    ),
)
request_headers = st.dictionaries(
    st.sampled_from(
        [
            "upstash-delay",
            "upstash-cron",
            "upstash-retries",
            "upstash-forward-x",
            "upstash-callback",
            "upstash-not-before",
            "upstash-schedule-id",
            "content-type",
            "upstash-method",
            "upstash-retry-delay",
            "upstash-timeout",
            "upstash-label",
            "upstash-deduplication-id",
        ]
    ),
    # What an HTTP server hands on: latin-1 decoded, no line breaks
    header_values.filter(lambda v: not any(c in v for c in "\r\n\0")).map(
        lambda v: v.encode("utf-8").decode("latin-1")
    ),
    max_size=3,
)


def _no_surrogates(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


# JSON bodies as an HTTP client sends them (lone surrogates: their own test below)
json_objects = st.dictionaries(
    st.sampled_from(
        [
            "messageIds",
            "dlqIds",
            "url",
            "label",
            "scheduleId",
            "reason",
            "stateToken",
            "expectStateToken",
            "steps",
        ]
    ),
    json_values.filter(_no_surrogates),
    max_size=3,
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=16),
    json_objects.map(json.dumps),
    valid_flow_bodies().map(json.dumps),
)


@pytest.mark.usefixtures("api")
@examples(60)
@given(st.sampled_from(ROUTES), tails, queries, request_headers, bodies)
def test_no_request_is_answered_with_a_5xx(
    route: tuple[str, str],
    tail: str,
    query: str,
    headers: dict[str, str],
    body: bytes | str | None,
) -> None:
    method, prefix = route
    _answered(call(method, prefix + tail, token=TOKEN, query=query, headers=headers, body=body))


LONE_SURROGATE_ROUTES = (
    ("DELETE", "/v2/messages", "messageIds", True),
    ("DELETE", "/v2/dlq", "dlqIds", True),
    ("POST", "/v2/dlq/retry", "dlqIds", True),
    ("PUT", "/v2/kill-switches/all", "reason", False),
    ("PUT", "/v2/flows/f-surrogate/state", "stateToken", False),
)


@pytest.mark.usefixtures("api")
@examples(30)
@given(
    st.sampled_from(LONE_SURROGATE_ROUTES),
    st.sampled_from(["\ud800", "a\udc00", "\udbff\udbff"]),
)
@example(("DELETE", "/v2/messages", "messageIds", True), "\ud800")
@example(("PUT", "/v2/kill-switches/all", "reason", False), "\udc00")
def test_a_json_string_with_a_lone_surrogate_is_a_400_not_a_500(
    route: tuple[str, str, str, bool], text: str
) -> None:
    method, path, field, as_list = route
    if path.startswith("/v2/flows/"):
        call(
            "POST",
            "/v2/flows/f-surrogate",
            token=TOKEN,
            body=json.dumps(
                {"stateToken": "s", "steps": [{"id": "a", "destination": "https://e.com/"}]}
            ),
        )
    body = json.dumps({field: [text] if as_list else text})  # ASCII: the surrogate is escaped
    response = call(method, path, token=TOKEN, body=body)
    if path.startswith("/v2/kill-switches/"):
        call("DELETE", path, token=TOKEN)
    assert response.status == 400, response
    assert "lone surrogate" in response.json["error"]


@pytest.mark.usefixtures("api")
@examples(30)
@given(
    st.sampled_from(["/v2/events", "/v2/logs", "/v2/dlq"]),
    st.lists(
        st.builds(
            "{}={}".format,
            st.sampled_from(
                ["cursor", "count", "fromDate", "toDate", "state", "url", "label", "messageId"]
            ),
            st.text(unicode_chars, max_size=8).map(quote),
        )
        | st.sampled_from(["count=1000", "count=100", "fromDate=99999999999999999999"]),
        max_size=4,
    ),
)
def test_a_listing_answers_a_page_or_a_400_for_any_filters(route: str, params: list[str]) -> None:
    response = call("GET", route, token=TOKEN, query="&".join(params))
    _answered(response)
    if response.status == 200:
        assert isinstance(response.json, dict)
