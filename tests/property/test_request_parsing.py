"""The rest of the request input: bulk-cancel filters (`only_known`, `multi_filter`,
`id_list`), query values and JSON bodies (functions/api/common.py), list cursors
(functions/ports.py), `count`, the bearer token, kill-switch scopes and flow ids."""

from __future__ import annotations

import json
import re
import string
from typing import Any
from urllib.parse import parse_qs, quote

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from hypothesis import example, given
from hypothesis import strategies as st

from functions.api.common import id_list, json_body, multi_filter, only_known, query_int
from functions.api.messages import BULK_CANCEL_FIELDS
from functions.domain.auth import bearer_token
from functions.domain.batch import parse_batch
from functions.domain.errors import DuetimeError, UnauthorizedError, ValidationError
from functions.domain.flows import check_id
from functions.domain.killswitches import validate_scope
from functions.ports import decode_cursor, encode_cursor
from functions.services.paging import page_size
from tests.helpers.events import http_event
from tests.property.strategies import json_text, json_values, unicode_chars
from tests.property.support import examples, value_or_named_error


def _event(query: str = "", body: bytes | None = None) -> APIGatewayProxyEventV2:
    return APIGatewayProxyEventV2(
        http_event("DELETE", "/v2/messages", token=None, query=query, body=body)
    )


query_names = st.sampled_from(
    [*sorted(BULK_CANCEL_FIELDS), "qstash_token", "URL", "queueName", "count", "ids"]
)
query_strings = st.lists(
    st.builds(
        lambda n, v: f"{quote(n)}={quote(v)}",
        query_names,
        st.text(unicode_chars, max_size=6),
    ),
    max_size=4,
).map("&".join)
bodies = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from([*sorted(BULK_CANCEL_FIELDS), "ids", "URL"]), json_values),
)


# --- cursors ---------------------------------------------------------------------------------


@examples(40)
@given(st.text(unicode_chars, max_size=40), st.text(unicode_chars, max_size=40))
def test_a_cursor_decodes_to_the_position_it_was_made_from(sort_key: str, item_id: str) -> None:
    position = f"{sort_key}#{item_id}"
    cursor = encode_cursor(position)
    assert set(cursor) <= set(string.ascii_letters + string.digits + "-_")
    assert decode_cursor(cursor) == position


@examples(80)
@given(
    st.one_of(
        st.text(unicode_chars, max_size=40),
        st.text(string.ascii_letters + string.digits + "-_=+/", max_size=40),
        st.binary(max_size=30).map(lambda b: encode_cursor(b.decode("latin-1"))),
    )
)
@example("")
@example("====")
@example(encode_cursor("no hash"))
def test_any_cursor_is_a_position_or_a_400_naming_the_cursor(cursor: str) -> None:
    position = value_or_named_error(
        lambda: decode_cursor(cursor), errors=(ValidationError,), names="cursor"
    )
    if isinstance(position, str):
        assert "#" in position
        # and what it names is what the API would have made for that position
        assert decode_cursor(encode_cursor(position)) == position


# --- bulk-cancel filters ---------------------------------------------------------------------


@examples(40)
@given(query_strings, bodies)
def test_only_known_refuses_exactly_the_unknown_fields_and_names_each(
    query: str, body: dict[str, Any] | None
) -> None:
    event = _event(query, json.dumps(body).encode() if body is not None else None)
    known = BULK_CANCEL_FIELDS
    unknown_body = set(body or {}) - known
    unknown_query = set(parse_qs(query)) - known - {"qstash_token"}
    outcome = value_or_named_error(
        lambda: only_known(body, event, known),
        errors=(ValidationError,),
        names=("unknown field", "unknown query parameter"),
    )
    if unknown_body or unknown_query:
        assert isinstance(outcome, ValidationError)
        for name in unknown_body or unknown_query:
            assert name in str(outcome)
    else:
        assert outcome is None


@examples(40)
@given(query_strings, bodies, st.sampled_from(["url", "label", "scheduleId"]))
def test_a_filter_is_non_empty_strings_or_a_400_naming_it(
    query: str, body: dict[str, Any] | None, name: str
) -> None:
    event = _event(query)
    value = value_or_named_error(
        lambda: multi_filter(body, event, name), errors=(ValidationError,), names=name
    )
    if isinstance(value, ValidationError):
        assert body is not None
        assert name in body
    elif body is not None and name in body:
        given = body[name]
        assert value == (tuple(given) if isinstance(given, list) else (given,))
        assert all(value)
    else:
        # from the query: every non-empty value, in order (any of them may match)
        assert value == tuple(v for v in parse_qs(query).get(name, []) if v)


@examples(40)
@given(
    query_strings,
    st.one_of(
        bodies,
        st.fixed_dictionaries({"messageIds": st.lists(json_text, max_size=3)}),
    ),
)
def test_message_ids_are_a_list_of_strings_or_a_400_naming_them(
    query: str, body: dict[str, Any] | None
) -> None:
    ids = value_or_named_error(
        lambda: id_list(body, _event(query), "messageIds"),
        errors=(ValidationError,),
        names="messageIds",
    )
    assert ids is None or isinstance(ids, DuetimeError) or all(isinstance(i, str) for i in ids)
    if body is not None and "messageIds" in body and not isinstance(ids, DuetimeError):
        assert ids == body["messageIds"]


# --- query values, JSON bodies ---------------------------------------------------------------


@examples(40)
@given(st.text(unicode_chars, max_size=12) | st.integers().map(str))
def test_an_integer_query_value_is_an_int_or_a_400_naming_it(value: str) -> None:
    parsed = value_or_named_error(
        lambda: query_int(_event(f"count={quote(value)}"), "count"),
        errors=(ValidationError,),
        names="query parameter count",
    )
    if isinstance(parsed, int):
        # and `count` itself is a page size or a 400 naming it
        value_or_named_error(
            lambda: page_size(parsed, 100), errors=(ValidationError,), names="count"
        )


@examples(60)
@given(
    st.one_of(
        st.binary(max_size=40),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"[" * 100_000, b"{" * 50, b"NaN", b"1e999999", b"1" * 5000, b"\xff"]),
    )
)
def test_a_json_body_is_an_object_none_or_a_400(body: bytes) -> None:
    data = value_or_named_error(
        lambda: json_body(_event(body=body)), errors=(ValidationError,), names="body"
    )
    assert data is None or isinstance(data, dict | ValidationError)
    if data is None:
        assert not body.strip()


batch_items = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(["destination", "headers", "body", "queue", "url"]),
        st.one_of(
            json_values,
            st.sampled_from(["http://127.0.0.1/x", "https://example.com/a?b=c", "group-a"]),
            st.dictionaries(st.text(unicode_chars, max_size=8), st.text(unicode_chars, max_size=8)),
        ),
    ),
)


@examples(80)
@given(st.one_of(json_values, st.lists(batch_items, max_size=4)))
def test_a_batch_body_is_items_or_a_400_naming_the_batch(data: Any) -> None:
    # Whatever JSON arrives, parse_batch gives items or a 400 that says "batch"; an error
    # about one item names its index.
    items = value_or_named_error(
        lambda: parse_batch(data), errors=(ValidationError,), names="batch"
    )
    if isinstance(items, ValidationError):
        match = re.match(r"batch message (\d+): ", str(items))
        if match:
            assert int(match[1]) < len(data)
        return
    assert len(items) == len(data)
    assert all(i.destination.startswith(("http://", "https://")) for i in items)


# --- token, kill-switch scopes, flow ids -----------------------------------------------------


@examples(40)
@given(
    st.none()
    | st.text(unicode_chars, max_size=20)
    | st.builds("Bearer {}".format, st.text(unicode_chars, max_size=20)),
    st.none() | st.text(unicode_chars, max_size=12),
)
def test_the_bearer_token_is_a_token_or_a_401(
    authorization: str | None, query_token: str | None
) -> None:
    token = value_or_named_error(
        lambda: bearer_token(authorization, query_token),
        errors=(UnauthorizedError,),
        names=("Authorization", "token"),
    )
    if isinstance(token, str):
        assert token
        assert token == token.strip()


@examples(40)
@given(
    st.one_of(
        st.sampled_from(
            ["all", "flows:", "flows:onboarding", "ALL", "flows", "flows:a/b", "url:", "schedule:"]
        ),
        st.builds("flows:{}".format, st.text(unicode_chars, max_size=10)),
        st.builds("url:https://{}".format, st.text(unicode_chars, max_size=10)),
        st.builds("schedule:{}".format, st.text(unicode_chars, max_size=10)),
        st.text(unicode_chars, max_size=12),
    )
)
def test_a_kill_switch_scope_is_a_known_kind_or_a_400_naming_it(scope: str) -> None:
    checked = value_or_named_error(
        lambda: validate_scope(scope), errors=(ValidationError,), names="kill switch scope"
    )
    if isinstance(checked, str):
        assert checked == "all" or checked.startswith(("flows:", "url:http", "schedule:"))
        assert not checked.startswith("url:") or not any(c.isspace() for c in checked)


@examples(40)
@given(st.text(unicode_chars, max_size=130), st.sampled_from(["flowId", "steps[0].id"]))
def test_an_id_is_kept_or_a_400_naming_it(value: str, what: str) -> None:
    checked = value_or_named_error(
        lambda: check_id(value, what), errors=(ValidationError,), names=what
    )
    if isinstance(checked, str):
        assert 1 <= len(checked) <= 128
        assert checked.isascii()
