"""Bad input is a 4xx that names what was wrong, and a bulk operation never widens by mistake."""

from __future__ import annotations

import json

import pytest

from functions import wiring
from tests.helpers.api import call
from tests.helpers.receiver import Receiver
from tests.integration.conftest import Aws, delivery_pump, publish


def _pending(aws: Aws) -> list[str]:
    return sorted(wiring.graph().message_store.pending_ids())


@pytest.mark.parametrize(
    ("query", "body", "named"),
    [
        ("queue=nope&count=100", None, "queue"),
        ("URL=https://example.com/a", None, "URL"),
        ("", {"messageId": "msg_x"}, "messageId"),
        ("", {"ids": ["msg_x"]}, "ids"),
        ("", {"URL": "https://example.com/a"}, "URL"),
    ],
)
def test_bulk_cancel_with_an_unknown_field_is_a_400_and_cancels_nothing(
    aws: Aws, query: str, body: dict[str, object] | None, named: str
) -> None:
    # Given two pending messages
    before = [publish(aws, f"https://example.com/{n}", **{"Upstash-Delay": "1h"}) for n in "ab"]
    # When a bulk cancel names a field duetime does not know
    response = call(
        "DELETE",
        "/v2/messages",
        token=aws.token,
        query=query,
        body=json.dumps(body) if body is not None else None,
    )
    # Then it is refused, naming the field, and nothing was cancelled
    assert response.status == 400
    assert named in response.json["error"]
    assert _pending(aws) == sorted(before)


def test_bulk_cancel_by_a_queue_that_holds_nothing_cancels_nothing(aws: Aws) -> None:
    # The defect this suite was written for: this cancelled every pending message
    before = [publish(aws, f"https://example.com/{n}", **{"Upstash-Delay": "1h"}) for n in "ab"]
    response = call("DELETE", "/v2/messages", token=aws.token, query="queueName=nope&count=100")
    assert (response.status, response.json) == (200, {"cancelled": 0})
    assert _pending(aws) == sorted(before)


def test_bulk_cancel_with_a_nan_filter_is_a_400(aws: Aws) -> None:
    publish(aws, "https://example.com/a", **{"Upstash-Delay": "1h"})
    response = call("DELETE", "/v2/messages", token=aws.token, body='{"url": NaN}')
    assert response.status == 400
    assert response.json["error"] == "url must be a non-empty string or an array of them, got nan"
    assert len(_pending(aws)) == 1


def test_bulk_cancel_with_no_body_and_no_query_cancels_all_pending(aws: Aws) -> None:
    for n in "ab":
        publish(aws, f"https://example.com/{n}", **{"Upstash-Delay": "1h"})
    response = call("DELETE", "/v2/messages", token=aws.token)
    assert response.json == {"cancelled": 2}
    assert _pending(aws) == []


@pytest.mark.parametrize("route", ["/v2/events", "/v2/logs", "/v2/dlq"])
def test_a_listing_with_an_unknown_filter_is_a_400(aws: Aws, route: str) -> None:
    response = call("GET", route, token=aws.token, query="queue=nope")
    assert response.status == 400
    assert "unknown query parameter(s): queue;" in response.json["error"]


@pytest.mark.parametrize(
    "spelling", ["qstash_token", "qstash%5Ftoken", "QSTASH_TOKEN", "qstash%5ftoken"]
)
def test_the_api_token_never_reaches_the_destination(
    aws: Aws, receiver: Receiver, spelling: str
) -> None:
    # Given a publish that authenticates with the token in the query, in some spelling
    response = call(
        "POST",
        f"/v2/publish/{receiver.url('/hook')}",
        token=aws.token,
        query=f"keep=1&{spelling}={aws.token}",
        body="x",
    )
    assert response.status == 201
    # When it is delivered, then the destination's query keeps its own parameters only
    delivery_pump(aws).poll_once()
    (request,) = receiver.wait_for(1)
    assert request.path == "/hook?keep=1"


@pytest.mark.parametrize(
    "destination",
    [
        "https://[::1/x",
        "http://[fe80::1/x",
        "https://exa[mple.com]/x",
        "http://[/x",
        "https://[]]/",
    ],
)
def test_a_destination_with_an_unbalanced_bracket_is_a_400(aws: Aws, destination: str) -> None:
    response = call("POST", f"/v2/publish/{destination}", token=aws.token, body="x")
    assert response.status == 400
    assert "destination" in response.json["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v2/messages"),
        ("POST", "/v2/flows/deep"),
        ("PUT", "/v2/flows/deep/state"),
        ("PUT", "/v2/kill-switches/all"),
        ("DELETE", "/v2/dlq"),
        ("POST", "/v2/dlq/retry"),
    ],
)
def test_json_nested_20000_deep_is_a_400_on_every_json_route(
    aws: Aws, method: str, path: str
) -> None:
    deep = "[" * 20_000 + "]" * 20_000
    response = call(method, path, token=aws.token, body=deep)
    assert response.status == 400
    assert response.json["error"] == "body is JSON nested too deeply"
