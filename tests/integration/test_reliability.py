"""Retries, dead letters, callbacks, deduplication, bulk cancel and the event log."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from itertools import pairwise

import boto3
import pytest

from functions import wiring
from functions.services.delivery import Outcome
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.helpers.drive import drive
from tests.helpers.receiver import Received, Receiver, Reply
from tests.integration.conftest import Aws, publish


def _fails(times: int, reply: Reply) -> Receiver:
    return Receiver(lambda _, index: reply if index < times else Reply())


def test_fails_twice_then_succeeds_spaced_by_the_retry_delay_expression(aws: Aws) -> None:
    with _fails(2, Reply(status=500)) as flaky:
        message_id = publish(aws, flaky.url(), **{"Upstash-Retry-Delay": "1000 * (1 + retried)"})
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        outcomes = drive(message_id, clock)
        requests = flaky.wait_for(3)
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.DELIVERED]
    assert [r.headers["Upstash-Retried"] for r in requests] == ["0", "1", "2"]
    events = wiring.graph().message_store.get(message_id).events
    attempts = [e.at for e in events if e.state.value in {"ERROR", "DELIVERED"}]
    gaps = [(b - a).total_seconds() for a, b in pairwise(attempts)]
    assert gaps == [pytest.approx(1.0, abs=0.05), pytest.approx(2.0, abs=0.05)]
    # And every event in the log carries the expression, as QStash's `retryDelayExpr`
    logged = call("GET", "/v2/events", token=aws.token, query=f"messageId={message_id}")
    assert len(logged.json["events"]) == len(events)
    assert {e["retryDelayExpr"] for e in logged.json["events"]} == {"1000 * (1 + retried)"}


def test_failing_forever_lands_in_the_dlq_and_calls_the_failure_callback(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=502, body=b"bad gateway")) as down, Receiver() as dlq:
        message_id = publish(
            aws,
            down.url(),
            **{
                "Upstash-Retries": "2",
                "Upstash-Failure-Callback": dlq.url("/dead"),
                "Upstash-Failure-Callback-Forward-X-Team": "billing",
            },
        )
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        assert drive(message_id, clock) == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
        assert len(down.requests) == 3
        # The failure callback is a message of its own; deliver it.
        callback_id = f"{message_id}-fcb2"
        assert drive(callback_id, clock) == [Outcome.DELIVERED]
        (callback,) = dlq.wait_for(1)
    body = json.loads(callback.body)
    assert body["sourceMessageId"] == message_id
    assert body["status"] == 502
    assert base64.b64decode(body["body"]) == b"bad gateway"
    assert body["retried"] == 2
    assert body["maxRetries"] == 2
    assert body["dlqId"] == message_id
    assert base64.b64decode(body["sourceBody"]) == b"payload"
    assert callback.headers["X-Team"] == "billing"
    assert callback.headers["Upstash-Signature"]
    listed = call("GET", "/v2/dlq", token=aws.token)
    (entry,) = listed.json["messages"]
    assert entry["dlqId"] == message_id
    assert entry["responseStatus"] == 502
    assert entry["responseBody"] == "bad gateway"


def test_success_callback_carries_the_response(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=200, body=b'{"sent": true}')) as app, Receiver() as cb:
        message_id = publish(aws, app.url(), **{"Upstash-Callback": cb.url("/cb")})
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        assert drive(message_id, clock) == [Outcome.DELIVERED]
        assert drive(f"{message_id}-cb0", clock) == [Outcome.DELIVERED]
        (callback,) = cb.wait_for(1)
    body = json.loads(callback.body)
    assert body["status"] == 200
    assert base64.b64decode(body["body"]) == b'{"sent": true}'
    assert body["sourceMessageId"] == message_id
    assert "dlqId" not in body


def test_429_with_retry_after_sets_the_next_attempt(aws: Aws) -> None:
    with _fails(1, Reply(status=429, headers={"Retry-After": "7"})) as limited:
        message_id = publish(aws, limited.url())
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        dispatcher_outcomes = drive(message_id, clock)
        first, second = limited.wait_for(2)
    assert dispatcher_outcomes == [Outcome.RETRY, Outcome.DELIVERED]
    events = wiring.graph().message_store.get(message_id).events
    error = next(e for e in events if e.state.value == "ERROR")
    assert error.response_status == 429
    assert error.next_delivery_at is not None
    assert (error.next_delivery_at - error.at).total_seconds() == pytest.approx(7.0)
    assert second.headers["Upstash-Retried"] == "1"
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_489_non_retryable_fails_at_once(aws: Aws) -> None:
    reply = Reply(status=489, headers={"Upstash-NonRetryable-Error": "true"}, body=b"no")
    with Receiver(lambda _, __: reply) as refuses:
        message_id = publish(aws, refuses.url(), **{"Upstash-Retries": "5"})
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        assert drive(message_id, clock) == [Outcome.FAILED]
        assert len(refuses.requests) == 1
    assert call("GET", f"/v2/dlq/{message_id}", token=aws.token).json["responseStatus"] == 489


def test_hanging_receiver_times_out_and_is_retried(aws: Aws) -> None:
    def hang_first(_: Received, index: int) -> Reply:
        return Reply(delay_seconds=2.5) if index == 0 else Reply()

    with Receiver(hang_first) as slow:
        message_id = publish(aws, slow.url(), **{"Upstash-Timeout": "1s"})
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        assert drive(message_id, clock) == [Outcome.RETRY, Outcome.DELIVERED]
    error = next(
        e for e in wiring.graph().message_store.get(message_id).events if e.state.value == "ERROR"
    )
    assert error.error == "timed out after 1s"
    assert error.response_status is None


def test_deduplication_id_answers_202_with_the_first_id(aws: Aws, receiver: Receiver) -> None:
    headers = {"Upstash-Deduplication-Id": "offer-42"}
    first = call("POST", f"/v2/publish/{receiver.url()}", token=aws.token, headers=headers)
    second = call("POST", f"/v2/publish/{receiver.url()}", token=aws.token, headers=headers)
    assert first.status == 201
    assert second.status == 202
    assert second.json == {"messageId": first.json["messageId"], "deduplicated": True}


def test_content_based_dedup_accepts_the_python_sdk_true(aws: Aws, receiver: Receiver) -> None:
    headers = {"Upstash-Content-Based-Deduplication": "True"}
    first = call(
        "POST", f"/v2/publish/{receiver.url()}", token=aws.token, headers=headers, body="a"
    )
    same = call("POST", f"/v2/publish/{receiver.url()}", token=aws.token, headers=headers, body="a")
    other = call(
        "POST", f"/v2/publish/{receiver.url()}", token=aws.token, headers=headers, body="b"
    )
    assert same.json == {"messageId": first.json["messageId"], "deduplicated": True}
    assert other.status == 201
    assert other.json["messageId"] != first.json["messageId"]


def test_deduplication_window_expires(aws: Aws, receiver: Receiver) -> None:
    service = wiring.graph().message_service
    clock = FakeClock()
    service.clock = clock
    headers = {"Upstash-Deduplication-Id": "window"}
    first = service.publish(destination=receiver.url(), headers=headers, body=b"")
    clock.advance(9 * 60)
    assert service.publish(destination=receiver.url(), headers=headers, body=b"").deduplicated
    clock.advance(2 * 60)
    later = service.publish(destination=receiver.url(), headers=headers, body=b"")
    assert not later.deduplicated
    assert later.message_id != first.message_id


def test_concurrent_identical_publishes_store_one_message(aws: Aws, receiver: Receiver) -> None:
    barrier = threading.Barrier(20)
    answers: list[tuple[int, str]] = []

    def publish() -> None:
        barrier.wait()
        response = call(
            "POST",
            f"/v2/publish/{receiver.url()}",
            token=aws.token,
            headers={"Upstash-Deduplication-Id": "race"},
        )
        answers.append((response.status, response.json["messageId"]))

    threads = [threading.Thread(target=publish) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({message_id for _, message_id in answers}) == 1
    assert sorted(status for status, _ in answers) == [201] + [202] * 19
    table = boto3.client("dynamodb", region_name="us-east-1")
    stored = table.scan(
        TableName=aws.resources.table_name,
        FilterExpression="begins_with(pk, :m)",
        ExpressionAttributeValues={":m": {"S": "MSG#"}},
    )
    assert stored["Count"] == 1


def _schedule_count(aws: Aws) -> int:
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    return len(scheduler.list_schedules(GroupName=aws.resources.schedule_group)["Schedules"])


def test_bulk_cancel_by_body_query_and_all(aws: Aws, receiver: Receiver) -> None:
    far = [publish(aws, receiver.url(), **{"Upstash-Delay": "2d"}) for _ in range(3)]
    near = [publish(aws, receiver.url(), **{"Upstash-Delay": "1m"}) for _ in range(2)]
    assert _schedule_count(aws) == 3
    by_body = call(
        "DELETE",
        "/v2/messages",
        token=aws.token,
        headers={"Content-Type": "application/json"},
        body=json.dumps({"messageIds": far[:2]}),
    )
    assert by_body.json == {"cancelled": 2}
    assert _schedule_count(aws) == 1
    by_query = call("DELETE", "/v2/messages", token=aws.token, query=f"messageIds={near[0]}")
    assert by_query.json == {"cancelled": 1}
    everything = call("DELETE", "/v2/messages", token=aws.token)
    assert everything.json == {"cancelled": 2}
    assert _schedule_count(aws) == 0
    states = {call("GET", f"/v2/messages/{m}", token=aws.token).json["state"] for m in far + near}
    assert states == {"CANCELED"}


def _dead(aws: Aws, url: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        message_id = publish(aws, url, **{"Upstash-Retries": "0"})
        clock = FakeClock(wiring.graph().message_store.get(message_id).due_at)
        assert drive(message_id, clock) == [Outcome.FAILED]
        ids.append(message_id)
    return ids


def test_dlq_get_delete_bulk_delete_and_retry(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=500)) as down:
        ids = _dead(aws, down.url(), 5)
    listed = call("GET", "/v2/dlq", token=aws.token)
    assert sorted(m["dlqId"] for m in listed.json["messages"]) == sorted(ids)
    assert call("GET", f"/v2/dlq/{ids[0]}", token=aws.token).json["messageId"] == ids[0]
    assert call("DELETE", f"/v2/dlq/{ids[0]}", token=aws.token).json == {"deleted": 1}
    assert call("GET", f"/v2/dlq/{ids[0]}", token=aws.token).status == 404
    assert call("DELETE", f"/v2/dlq/{ids[0]}", token=aws.token).status == 404
    by_body = call(
        "DELETE", "/v2/dlq", token=aws.token, body=json.dumps({"dlqIds": [ids[1], "nope"]})
    )
    assert by_body.json == {"deleted": 1}
    by_query = call("DELETE", "/v2/dlq", token=aws.token, query=f"dlqIds={ids[2]}")
    assert by_query.json == {"deleted": 1}
    # Retry republishes as a new message and takes it out of the DLQ.
    retried = call("POST", f"/v2/dlq/retry/{ids[3]}", token=aws.token)
    assert retried.status == 200
    new_id = retried.json["messageId"]
    assert new_id != ids[3]
    again = call("POST", "/v2/dlq/retry", token=aws.token, query=f"dlqIds={ids[4]}")
    assert len(again.json["responses"]) == 1
    assert call("GET", "/v2/dlq", token=aws.token).json["messages"] == []
    assert call("GET", f"/v2/messages/{new_id}", token=aws.token).json["state"] == "CREATED"
    assert call("DELETE", "/v2/dlq", token=aws.token).status == 400


def test_an_id_named_twice_in_one_dlq_retry_is_retried_once(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=500)) as down:
        (failed,) = _dead(aws, down.url(), 1)
    retried = call(
        "POST", "/v2/dlq/retry", token=aws.token, body=json.dumps({"dlqIds": [failed, failed]})
    )
    assert retried.status == 200
    (response,) = retried.json["responses"]
    assert call("GET", f"/v2/messages/{response['messageId']}", token=aws.token).status == 200
    assert call("GET", "/v2/dlq", token=aws.token).json["messages"] == []
    # Nothing else was published: the message log holds the failed one and its retry only.
    listed = call("GET", "/v2/messages", token=aws.token).json["messages"]
    assert sorted(m["messageId"] for m in listed) == sorted([failed, response["messageId"]])


def test_dlq_filters_and_cursor(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=503)) as down:
        ids = _dead(aws, down.url(), 5)
    first = call("GET", "/v2/dlq", token=aws.token, query="count=2")
    assert len(first.json["messages"]) == 2
    second = call("GET", "/v2/dlq", token=aws.token, query=f"count=2&cursor={first.json['cursor']}")
    third = call("GET", "/v2/dlq", token=aws.token, query=f"count=2&cursor={second.json['cursor']}")
    pages = first.json["messages"] + second.json["messages"] + third.json["messages"]
    assert sorted(m["dlqId"] for m in pages) == sorted(ids)
    assert "cursor" not in third.json
    filtered = call("GET", "/v2/dlq", token=aws.token, query=f"messageId={ids[2]}")
    assert [m["dlqId"] for m in filtered.json["messages"]] == [ids[2]]
    none = call("GET", "/v2/dlq", token=aws.token, query="responseStatus=404")
    assert none.json["messages"] == []


def test_event_log_under_both_names_with_filters_and_cursor(aws: Aws, receiver: Receiver) -> None:
    ids = [publish(aws, receiver.url()) for _ in range(7)]
    clock = FakeClock(wiring.graph().message_store.get(ids[0]).due_at + timedelta(seconds=1))
    drive(ids[0], clock)
    events = call("GET", "/v2/events", token=aws.token)
    logs = call("GET", "/v2/logs", token=aws.token)
    assert events.json["events"] == logs.json["logs"]
    assert {e["messageId"] for e in events.json["events"]} == set(ids)
    delivered = call("GET", "/v2/events", token=aws.token, query="state=DELIVERED")
    assert [(e["messageId"], e["state"]) for e in delivered.json["events"]] == [
        (ids[0], "DELIVERED")
    ]
    one = call("GET", "/v2/logs", token=aws.token, query=f"messageId={ids[0]}")
    assert [e["state"] for e in one.json["logs"]] == ["DELIVERED", "CREATED"]
    seen: list[str] = []
    cursor = ""
    while True:
        page = call("GET", "/v2/events", token=aws.token, query=f"count=3{cursor}")
        seen += [e["messageId"] for e in page.json["events"] if e["state"] == "CREATED"]
        if "cursor" not in page.json:
            break
        cursor = f"&cursor={page.json['cursor']}"
    assert sorted(seen) == sorted(ids)
    bad = call("GET", "/v2/events", token=aws.token, query="state=LOST")
    assert bad.status == 400
    assert "state must be one of" in bad.json["error"]


def test_stats_answer_the_operators_questions(aws: Aws, receiver: Receiver) -> None:
    # Given two pending offers and three that failed (two with 503, one with 500)
    for _ in range(2):
        publish(aws, receiver.url(), **{"Upstash-Delay": "1h"})
    with Receiver(lambda _, __: Reply(status=503)) as down:
        _dead(aws, down.url(), 2)
    with Receiver(lambda _, __: Reply(status=500)) as broken:
        _dead(aws, broken.url(), 1)
    # When an operator asks
    stats = call("GET", "/v2/stats", token=aws.token)
    # Then the counts and the grouped errors are there
    assert stats.status == 200
    assert stats.json["scheduled"] == 2
    assert stats.json["overdue"] == 0
    assert stats.json["failed"] == 3
    assert stats.json["averageRetries"] == 0.0
    grouped = [(e["error"], e["count"], e["sample"]["url"]) for e in stats.json["errors"]]
    assert grouped == [("HTTP 503", 2, down.url()), ("HTTP 500", 1, broken.url())]
    assert stats.json["errors"][0]["sample"]["responseStatus"] == 503
    # Over the last hour: three attempts, each failed, none delivered
    assert (stats.json["attempts"], stats.json["delivered"], stats.json["failedAttempts"]) == (
        3,
        0,
        3,
    )
    assert (stats.json["successRate"], stats.json["failureRate"]) == (0.0, 1.0)
    assert stats.json["deadLettered"] == 3
    assert stats.json["windowComplete"] is True
    assert stats.json["window"]["to"] - stats.json["window"]["from"] == 3_600_000


def test_stats_rates_cover_the_window_asked_for_and_refuse_unknown_queries(
    aws: Aws, receiver: Receiver
) -> None:
    delivered = publish(aws, receiver.url())
    clock = FakeClock(wiring.graph().message_store.get(delivered).due_at)
    assert drive(delivered, clock) == [Outcome.DELIVERED]
    with Receiver(lambda _, __: Reply(status=500)) as broken:
        _dead(aws, broken.url(), 1)
    stats = call("GET", "/v2/stats", token=aws.token, query="window=30d")
    assert stats.status == 200
    assert (stats.json["attempts"], stats.json["delivered"]) == (2, 1)
    assert stats.json["successRate"] == 0.5
    assert call("GET", "/v2/stats", token=aws.token, query="windows=1h").status == 400
    bad = call("GET", "/v2/stats", token=aws.token, query="window=90d")
    assert bad.status == 400
    assert "window" in bad.json["error"]


def test_a_filtered_dlq_page_never_skips_a_match_between_pages(aws: Aws) -> None:
    # Given failures at two URLs, so that newest first a page of two holds one a and the next
    # two a's (a page that used to drop its second match)
    order = "aabaaba"
    with Receiver(lambda _, __: Reply(status=500)) as down:
        ids = [_dead(aws, down.url(f"/{p}"), 1)[0] for p in order]
        a_url = down.url("/a")
    wanted = {m for p, m in zip(order, ids, strict=True) if p == "a"}
    # When the a's are paged two at a time
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = call("GET", "/v2/dlq", token=aws.token, query=f"url={a_url}&count=2{cursor}")
        assert len(page.json["messages"]) <= 2
        seen += [m["dlqId"] for m in page.json["messages"]]
        if "cursor" not in page.json:
            break
        cursor = f"&cursor={page.json['cursor']}"
    # Then every one of them is seen exactly once (this also caught the sharded listing
    # ending early when the rest sat in one shard: tests/contract/test_listings.py)
    assert sorted(seen) == sorted(wanted)


def test_dlq_bulk_by_filter_and_all_and_an_empty_request_is_refused(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=500)) as down:
        ids = [_dead(aws, down.url(f"/{p}"), 1)[0] for p in ("x", "y", "y", "z")]
        x, y = down.url("/x"), down.url("/y")
    # The publisher's address (callerIP) filters too
    by_ip = call("GET", "/v2/dlq", token=aws.token, query="callerIp=203.0.113.7").json
    assert sorted(m["dlqId"] for m in by_ip["messages"]) == sorted(ids)
    assert {m["callerIP"] for m in by_ip["messages"]} == {"203.0.113.7"}
    assert call("GET", "/v2/dlq", token=aws.token, query="callerIp=10.9.9.9").json == {
        "messages": []
    }
    # Nothing at all names nothing: a 400, and nothing is touched
    assert call("DELETE", "/v2/dlq", token=aws.token).status == 400
    assert call("POST", "/v2/dlq/retry", token=aws.token, body="{}").status == 400
    # A two-valued filter in the body retries exactly the matching three
    retried = call("POST", "/v2/dlq/retry", token=aws.token, body=json.dumps({"url": [x, y]})).json[
        "responses"
    ]
    assert len(retried) == 3
    left = [m["dlqId"] for m in call("GET", "/v2/dlq", token=aws.token).json["messages"]]
    assert left == [ids[3]]
    # An unknown filter is a 400 naming it, and deletes nothing
    typo = call("DELETE", "/v2/dlq", token=aws.token, query="queue=nope")
    assert typo.status == 400
    assert "queue;" in typo.json["error"]
    # all=true deletes what is left
    assert call("DELETE", "/v2/dlq", token=aws.token, query="all=true").json == {"deleted": 1}
    assert call("GET", "/v2/dlq", token=aws.token).json["messages"] == []
