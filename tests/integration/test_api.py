"""The QStash-compatible API, through the `schedule` handler, against moto."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.helpers.api import call, invoke
from tests.helpers.events import publish_event
from tests.integration.conftest import KEYS, Aws, install_aws


def _queued_timers(aws: Aws) -> list[dict[str, object]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    attrs = sqs.get_queue_attributes(
        QueueUrl=aws.resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return [attrs]  # type: ignore[list-item]


def _schedules(aws: Aws) -> list[dict[str, object]]:
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    names = scheduler.list_schedules(GroupName=aws.resources.schedule_group)["Schedules"]
    return [
        dict(scheduler.get_schedule(Name=s["Name"], GroupName=aws.resources.schedule_group))
        for s in names
    ]


def test_canonical_publish_event_stores_the_destination_with_its_query(aws: Aws) -> None:
    # Given the canonical HTTP API event for an SDK publish with a 10 s delay
    # When the schedule handler receives it
    published = invoke(publish_event(aws.token))
    # Then it answers 201 with a message id, and the message reads back as sent
    assert published.status == 201
    message_id = published.json["messageId"]
    read = call("GET", f"/v2/messages/{message_id}", token=aws.token)
    assert read.status == 200
    assert read.json["url"] == "https://example.com/hooks/offer?user=42&lang=en"
    assert read.json["method"] == "POST"
    assert read.json["body"] == '{"offer": "A-1"}'
    assert read.json["header"] == {"x-tenant": ["acme"], "content-type": ["application/json"]}
    assert read.json["maxRetries"] == 3
    assert read.json["notBefore"] - read.json["createdAt"] == 10_000
    assert read.json["state"] == "CREATED"


def test_publish_keeps_double_slashes_in_the_destination_path(aws: Aws) -> None:
    published = call(
        "POST", "/v2/publish/https://example.com/a//b/", token=aws.token, query="x=1&y=%2F"
    )
    assert published.status == 201
    read = call("GET", f"/v2/messages/{published.json['messageId']}", token=aws.token)
    assert read.json["url"] == "https://example.com/a//b/?x=1&y=%2F"


def test_near_message_is_armed_as_an_sqs_delay_and_far_one_as_an_eventbridge_schedule(
    aws: Aws,
) -> None:
    near = call(
        "POST",
        "/v2/publish/https://example.com/n",
        token=aws.token,
        headers={"Upstash-Delay": "5m"},
    )
    assert near.status == 201
    assert _queued_timers(aws)[0]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert _schedules(aws) == []

    not_before = int(time.time()) + 3 * 3600
    far = call(
        "POST",
        "/v2/publish/https://example.com/f",
        token=aws.token,
        headers={"Upstash-Not-Before": str(not_before), "Upstash-Delay": "10s"},
    )
    assert far.status == 201
    (schedule,) = _schedules(aws)
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert str(schedule["ScheduleExpression"]).startswith("at(")
    target = schedule["Target"]
    assert isinstance(target, dict)
    assert target["Arn"] == aws.resources.queue_arn
    assert json.loads(target["Input"])["id"] == far.json["messageId"]
    read = call("GET", f"/v2/messages/{far.json['messageId']}", token=aws.token)
    # Upstash-Not-Before wins over Upstash-Delay.
    assert read.json["notBefore"] == not_before * 1000


def test_cancel_deletes_the_armed_eventbridge_schedule(aws: Aws) -> None:
    far = call(
        "POST",
        "/v2/publish/https://example.com/f",
        token=aws.token,
        headers={"Upstash-Delay": "2d"},
    )
    assert len(_schedules(aws)) == 1
    cancelled = call("DELETE", f"/v2/messages/{far.json['messageId']}", token=aws.token)
    assert cancelled.status == 200
    assert cancelled.json == {"cancelled": 1}
    assert _schedules(aws) == []
    read = call("GET", f"/v2/messages/{far.json['messageId']}", token=aws.token)
    assert read.json["state"] == "CANCELED"
    again = call("DELETE", f"/v2/messages/{far.json['messageId']}", token=aws.token)
    assert again.status == 200
    assert again.json == {"cancelled": 0}


def test_keys_answer_current_and_next(aws: Aws) -> None:
    keys = call("GET", "/v2/keys", token=aws.token)
    assert keys.status == 200
    assert keys.json == {"current": KEYS.current, "next": KEYS.next}


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, "missing Authorization"),
        ("wrong-token", "invalid token"),
    ],
)
def test_requests_without_a_valid_token_are_401(aws: Aws, token: str | None, error: str) -> None:
    response = call("POST", "/v2/publish/https://example.com/x", token=token)
    assert response.status == 401
    assert error in response.json["error"]
    assert _queued_timers(aws)[0]["ApproximateNumberOfMessages"] == "0"


def test_token_with_stray_whitespace_is_accepted(aws: Aws) -> None:
    response = call("GET", "/v2/keys", token=f"  {aws.token}\n")
    assert response.status == 200


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "error"),
    [
        (
            "/v2/publish/https://example.com/x",
            {"Upstash-Delay": "soon"},
            None,
            400,
            "Upstash-Delay",
        ),
        ("/v2/publish/ftp://example.com/x", {}, None, 400, "http(s) URL"),
        ("/v2/publish/not:a-url", {}, None, 400, "destination"),
        # A bare name is a URL group: one that does not exist is a 404 naming it
        ("/v2/publish/not-a-url", {}, None, 404, "URL group not-a-url"),
        (
            "/v2/publish/https://example.com/x",
            {"Upstash-Method": "BREW"},
            None,
            400,
            "Upstash-Method",
        ),
        (
            "/v2/publish/https://example.com/x",
            {"Upstash-Not-Before": "tomorrow"},
            None,
            400,
            "Upstash-Not-Before",
        ),
        (
            "/v2/publish/https://example.com/x",
            {"Upstash-Retries": "-1"},
            None,
            400,
            "Upstash-Retries",
        ),
        (
            "/v2/publish/https://example.com/x",
            {"Upstash-Timeout": "2h"},
            None,
            400,
            "Upstash-Timeout",
        ),
        (
            "/v2/publish/https://example.com/x",
            {"Upstash-Retry-Delay": "__import__('os')"},
            None,
            400,
            "Upstash-Retry-Delay",
        ),
        ("/v2/publish/https://example.com/x", {}, b"x" * 262_145, 413, "limit is 262144 bytes"),
    ],
)
def test_bad_publish_is_a_4xx_naming_the_problem_and_writes_nothing(
    aws: Aws, path: str, headers: dict[str, str], body: bytes | None, status: int, error: str
) -> None:
    response = call("POST", path, token=aws.token, headers=headers, body=body)
    assert response.status == status
    assert error in response.json["error"]
    table = boto3.client("dynamodb", region_name="us-east-1")
    assert table.scan(TableName=aws.resources.table_name)["Count"] == 0
    assert _queued_timers(aws)[0]["ApproximateNumberOfMessages"] == "0"


def test_unknown_message_is_404(aws: Aws) -> None:
    response = call("GET", "/v2/messages/msg_doesnotexist", token=aws.token)
    assert response.status == 404
    assert response.json == {"error": "message msg_doesnotexist not found"}


def test_wrong_method_on_a_known_path_is_405(aws: Aws) -> None:
    response = call("PUT", "/v2/messages/msg_x", token=aws.token)
    assert response.status == 405
    assert response.json == {"error": "method PUT is not allowed on /v2/messages/msg_x"}
    assert response.headers["Allow"] == "DELETE, GET"


def test_a_method_no_route_has_is_405_with_allow(aws: Aws) -> None:
    response = call("TRACE", "/v2/dlq", token=aws.token)
    assert response.status == 405
    assert response.headers["Allow"] == "DELETE, GET"


def test_unknown_route_is_404_json(aws: Aws) -> None:
    response = call("GET", "/v2/nothing-here", token=aws.token)
    assert response.status == 404
    assert "no route" in response.json["error"]


def test_binary_body_is_kept_byte_for_byte(aws: Aws) -> None:
    payload = bytes(range(256))
    published = call(
        "POST",
        "/v2/publish/https://example.com/bin",
        token=aws.token,
        headers={"Content-Type": "application/octet-stream"},
        body=payload,
    )
    read = call("GET", f"/v2/messages/{published.json['messageId']}", token=aws.token)
    import base64

    assert base64.b64decode(read.json["bodyBase64"]) == payload


def test_allowed_hosts_refuse_other_destinations_at_publish(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUETIME_ALLOWED_HOSTS", "hooks.example.com, api.example.com")
    install_aws()
    allowed = call("POST", "/v2/publish/https://hooks.example.com/x", token=aws.token)
    refused = call("POST", "/v2/publish/https://evil.example.net/x", token=aws.token)
    assert allowed.status == 201
    assert refused.status == 400
    assert "'evil.example.net' is not in the allowed hosts" in refused.json["error"]
