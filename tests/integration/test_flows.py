"""Flows: one step per run, state tokens, idempotency keys, replays, kill switch, recovery."""

from __future__ import annotations

import dataclasses
import json
import threading
from itertools import pairwise
from typing import Any

import boto3
import pytest

from functions import wiring
from functions.adapters.aws.flows import FlowStore
from functions.domain.timers import STEP, TimerPayload, step_target
from functions.services.flows import FlowRunner, StepResult
from tests.helpers.api import ApiResponse, call
from tests.helpers.clock import FakeClock
from tests.helpers.receiver import Receiver, Reply
from tests.integration.conftest import Aws

TOKEN = "onboarding:awaiting_burst"


def _burst(url: str, profile: str = "p1", session: str = "s1") -> dict[str, Any]:
    def step(n: int, delay: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"onboarding_message_{n}",
            "destination": url,
            "body": {"text": f"message {n}"},
            "delay": delay,
            "idempotencyKey": f"onboarding:{profile}:{session}:onboarding_message_{n}",
            **extra,
        }

    return {
        "stateToken": TOKEN,
        "steps": [
            step(1, "0s"),
            step(2, "8s"),
            step(3, "8s", setStateToken="onboarding:burst_sent"),
            step(4, "0s", expectStateToken="onboarding:burst_sent"),
        ],
    }


def _start(aws: Aws, flow_id: str, body: dict[str, Any]) -> ApiResponse:
    return call("POST", f"/v2/flows/{flow_id}", token=aws.token, body=json.dumps(body))


def _flow(aws: Aws, flow_id: str) -> dict[str, Any]:
    response = call("GET", f"/v2/flows/{flow_id}", token=aws.token)
    assert response.status == 200, response.json
    return dict(response.json)


def _runner(clock: FakeClock) -> FlowRunner:
    runner = wiring.graph().flow_runner
    return dataclasses.replace(runner, clock=clock, sleep=clock.sleep)


def _fire_armed(aws: Aws, flow_id: str, clock: FakeClock) -> StepResult | None:
    """Fire the armed step's timer at its due time (None when no step is armed)."""
    flow = _flow(aws, flow_id)
    for index, step in enumerate(flow["steps"]):
        if step["status"] in {"ARMED", "RETRY"}:
            due = wiring.graph().flow_runner.store.get(flow_id).steps[index].due_at
            assert due is not None
            clock.now = max(clock.now, due)
            payload = TimerPayload(step_target(flow_id, flow["run"], index), due, kind=STEP)
            return _runner(clock).handle_timer(payload)
    return None


def _step_queue_depth(aws: Aws) -> int:
    sqs = boto3.client("sqs", region_name="us-east-1")
    attrs = sqs.get_queue_attributes(
        QueueUrl=aws.resources.step_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesDelayed"]
    )


def test_start_arms_exactly_the_first_step_and_is_idempotent(aws: Aws, receiver: Receiver) -> None:
    started = _start(aws, "onb-1", _burst(receiver.url()))
    assert started.status == 201
    assert [s["status"] for s in started.json["steps"]] == [
        "ARMED",
        "PENDING",
        "PENDING",
        "PENDING",
    ]
    assert _step_queue_depth(aws) == 1
    again = _start(aws, "onb-1", _burst(receiver.url()))
    assert again.status == 200
    assert _step_queue_depth(aws) == 1


def test_burst_runs_one_step_per_invocation_with_its_gaps(aws: Aws, receiver: Receiver) -> None:
    _start(aws, "onb-2", _burst(receiver.url()))
    clock = FakeClock()
    results = []
    while (result := _fire_armed(aws, "onb-2", clock)) is not None:
        results.append(result)
        # Each run arms only the next step: never more than one armed at a time.
        statuses = [s["status"] for s in _flow(aws, "onb-2")["steps"]]
        assert statuses.count("ARMED") <= 1
    assert results == [StepResult()] * 4
    requests = receiver.wait_for(4)
    assert [json.loads(r.body)["text"] for r in requests] == [f"message {n}" for n in range(1, 5)]
    assert requests[0].headers["Idempotency-Key"] == "onboarding:p1:s1:onboarding_message_1"
    assert requests[0].headers["Duetime-Flow-Id"] == "onb-2"
    assert requests[0].headers["Content-Type"] == "application/json"
    flow = _flow(aws, "onb-2")
    assert flow["status"] == "COMPLETED"
    assert flow["stateToken"] == "onboarding:burst_sent"
    sent = [s["sentAt"] for s in flow["steps"]]
    gaps = [(b - a) / 1000 for a, b in pairwise(sent)]
    assert gaps == [
        pytest.approx(8, abs=0.01),
        pytest.approx(8, abs=0.01),
        pytest.approx(0, abs=0.01),
    ]
    log = call("GET", "/v2/flows/onb-2/log", token=aws.token).json["events"]
    times = [e["time"] for e in log]
    assert times == sorted(times)
    assert [e["stepId"] for e in log if e["event"] == "SENT"] == [
        f"onboarding_message_{n}" for n in range(1, 5)
    ]


def test_step_after_the_app_moved_the_state_on_is_stale_and_sends_nothing(
    aws: Aws, receiver: Receiver
) -> None:
    _start(aws, "onb-3", _burst(receiver.url()))
    clock = FakeClock()
    assert _fire_armed(aws, "onb-3", clock) == StepResult()
    # The user replied: the app moves the session on.
    moved = call(
        "PUT",
        "/v2/flows/onb-3/state",
        token=aws.token,
        body=json.dumps({"stateToken": "onboarding:replied", "expectStateToken": TOKEN}),
    )
    assert moved.status == 200
    assert _fire_armed(aws, "onb-3", clock) == StepResult(skipped=True, reason="stale_state")
    assert len(receiver.wait_for(2, timeout=0.5)) == 1
    flow = _flow(aws, "onb-3")
    assert flow["status"] == "HALTED"
    assert flow["steps"][1]["status"] == "SKIPPED"
    assert flow["steps"][1]["reason"] == "stale_state"


def test_state_compare_and_set_conflict_is_409(aws: Aws, receiver: Receiver) -> None:
    _start(aws, "onb-4", _burst(receiver.url()))
    conflict = call(
        "PUT",
        "/v2/flows/onb-4/state",
        token=aws.token,
        body=json.dumps({"stateToken": "x", "expectStateToken": "not-the-token"}),
    )
    assert conflict.status == 409
    assert "onboarding:awaiting_burst" in conflict.json["error"]


def test_twenty_concurrent_replays_send_once(aws: Aws, receiver: Receiver) -> None:
    _start(aws, "onb-5", _burst(receiver.url()))
    barrier = threading.Barrier(20)
    answers: list[dict[str, Any]] = []

    def replay() -> None:
        barrier.wait()
        answers.append(
            call("POST", "/v2/flows/onb-5/steps/onboarding_message_1/run", token=aws.token).json
        )

    threads = [threading.Thread(target=replay) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receiver.wait_for(2, timeout=1.0)) == 1
    assert answers.count({"ok": True}) == 1
    assert all(a == {"ok": True} or a.get("skipped") for a in answers)
    # Replaying later answers already_sent, and still sends nothing.
    later = call("POST", "/v2/flows/onb-5/steps/onboarding_message_1/run", token=aws.token)
    assert later.json == {"ok": True, "skipped": True, "reason": "already_sent"}
    assert len(receiver.requests) == 1


def test_kill_switch_stops_new_arming_but_armed_steps_run_and_off_resumes(
    aws: Aws, receiver: Receiver
) -> None:
    _start(aws, "onb-6", _burst(receiver.url()))
    clock = FakeClock()
    assert _fire_armed(aws, "onb-6", clock) == StepResult()  # step 1 sent, step 2 armed
    on = call("PUT", "/v2/kill-switches/flows:onb-", token=aws.token, body='{"reason": "incident"}')
    assert on.json["killSwitches"][0]["scope"] == "flows:onb-"
    # The armed step 2 still runs; step 3 is not armed; the flow halts.
    assert _fire_armed(aws, "onb-6", clock) == StepResult()
    flow = _flow(aws, "onb-6")
    assert flow["status"] == "HALTED"
    assert flow["reason"] == "disabled"
    assert flow["steps"][2]["status"] == "PENDING"
    assert flow["steps"][2]["reason"] == "disabled"
    assert _fire_armed(aws, "onb-6", clock) is None
    blocked = _start(aws, "onb-7", _burst(receiver.url()))
    assert blocked.status == 503
    assert "flows:onb-" in blocked.json["error"]
    replay = call("POST", "/v2/flows/onb-6/steps/onboarding_message_3/run", token=aws.token)
    assert replay.json == {"ok": True, "skipped": True, "reason": "disabled"}
    # Off: starting it again resumes from the first unsent step and completes the burst.
    assert call("DELETE", "/v2/kill-switches/flows:onb-", token=aws.token).json == {
        "killSwitches": []
    }
    resumed = _start(aws, "onb-6", _burst(receiver.url()))
    assert resumed.status == 201
    while _fire_armed(aws, "onb-6", clock) is not None:
        pass
    assert _flow(aws, "onb-6")["status"] == "COMPLETED"
    texts = [json.loads(r.body)["text"] for r in receiver.wait_for(4)]
    assert texts == [f"message {n}" for n in range(1, 5)]


def test_global_kill_switch_makes_publish_a_503_naming_it(aws: Aws) -> None:
    call("PUT", "/v2/kill-switches/all", token=aws.token)
    response = call("POST", "/v2/publish/https://example.com/x", token=aws.token)
    assert response.status == 503
    assert response.json == {"error": "kill switch 'all' is on: no new message is armed"}
    call("DELETE", "/v2/kill-switches/all", token=aws.token)
    assert call("POST", "/v2/publish/https://example.com/x", token=aws.token).status == 201


def test_crash_between_send_and_state_advance_recovers_without_a_second_send(
    aws: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _start(aws, "onb-8", _burst(receiver.url()))
    clock = FakeClock()

    class CrashError(RuntimeError):
        pass

    def crash(*_: Any, **__: Any) -> bool:
        raise CrashError

    monkeypatch.setattr(FlowStore, "advance", crash)
    with pytest.raises(CrashError):
        _fire_armed(aws, "onb-8", clock)
    monkeypatch.undo()
    assert len(receiver.wait_for(1)) == 1
    assert _flow(aws, "onb-8")["steps"][1]["status"] == "PENDING"
    # The sweeper finds the step the flow never moved past, and the chain goes on.
    clock.advance(120)
    recovery = dataclasses.replace(wiring.graph().recovery, clock=clock)
    assert recovery.run().recovered == 1
    sqs = boto3.client("sqs", region_name="us-east-1")
    (message,) = sqs.receive_message(QueueUrl=aws.resources.step_queue_url, WaitTimeSeconds=1)[
        "Messages"
    ]
    payload = TimerPayload.from_json(message["Body"])
    assert _runner(clock).handle_timer(payload) == StepResult(skipped=True, reason="already_sent")
    assert len(receiver.wait_for(2, timeout=0.5)) == 1
    assert _flow(aws, "onb-8")["steps"][1]["status"] == "ARMED"


def test_delete_cancels_the_armed_step(aws: Aws, receiver: Receiver) -> None:
    _start(aws, "onb-9", _burst(receiver.url()))
    flow = wiring.graph().flow_runner.store.get("onb-9")
    due = flow.steps[0].due_at
    assert due is not None
    cancelled = call("DELETE", "/v2/flows/onb-9", token=aws.token)
    assert cancelled.json["status"] == "CANCELED"
    assert cancelled.json["steps"][0]["status"] == "CANCELED"
    clock = FakeClock(due)
    result = _runner(clock).handle_timer(TimerPayload(step_target("onb-9", 1, 0), due, kind=STEP))
    assert result == StepResult(skipped=True, reason="not_running")
    assert receiver.requests == []


def test_failing_step_retries_then_fails_the_flow(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=500)) as down:
        body = {
            "stateToken": "t",
            "steps": [{"id": "only", "destination": down.url(), "retries": 1}],
        }
        _start(aws, "flaky", body)
        clock = FakeClock()
        first = _fire_armed(aws, "flaky", clock)
        second = _fire_armed(aws, "flaky", clock)
        assert len(down.wait_for(2)) == 2
    assert first == StepResult(ok=False, reason="retrying", error="HTTP 500")
    assert second == StepResult(ok=False, reason="failed", error="HTTP 500")
    flow = _flow(aws, "flaky")
    assert flow["status"] == "FAILED"
    assert flow["steps"][0]["attempts"] == 2
    assert flow["steps"][0]["lastStatus"] == 500


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"steps": []}, "body.stateToken is required"),
        ({"stateToken": "t", "steps": []}, "body.steps must be a non-empty array"),
        ({"stateToken": "t", "steps": [{"id": "a"}]}, "steps[0].destination is required"),
        (
            {
                "stateToken": "t",
                "steps": [{"id": "a", "destination": "https://x.io", "delay": "8x"}],
            },
            "steps[0].delay",
        ),
        (
            {"stateToken": "t", "steps": [{"id": "a", "destination": "ftp://x.io"}]},
            "steps[0].destination must be an absolute http(s) URL",
        ),
    ],
)
def test_bad_flow_is_a_400_naming_the_field(aws: Aws, body: dict[str, Any], error: str) -> None:
    response = _start(aws, "bad", body)
    assert response.status == 400
    assert error in response.json["error"]
    assert call("GET", "/v2/flows/bad", token=aws.token).status == 404


# One attempt engine: a step is judged by the rules a message is (functions/domain/outcomes.py).


def test_step_retry_follows_the_receivers_retry_after(aws: Aws) -> None:
    # Given a receiver that answers 429 with Retry-After: 30 once, then 200
    def busy_once(_: object, index: int) -> Reply:
        return Reply(status=429, headers={"Retry-After": "30"}) if index == 0 else Reply()

    with Receiver(busy_once) as receiver:
        _start(
            aws, "ra", {"stateToken": "t", "steps": [{"id": "s", "destination": receiver.url()}]}
        )
        clock = FakeClock()
        started = clock.now
        # When the step runs and is refused
        first = _fire_armed(aws, "ra", clock)
        # Then the retry is due 30 s later, not after the default backoff (e^2.5 ≈ 12 s)
        due = wiring.graph().flow_runner.store.get("ra").steps[0].due_at
        assert first == StepResult(ok=False, reason="retrying", error="HTTP 429")
        assert due is not None
        assert round((due - started).total_seconds()) == 30
        assert _fire_armed(aws, "ra", clock) == StepResult()
        assert len(receiver.wait_for(2)) == 2


def test_step_answered_489_non_retryable_fails_at_once(aws: Aws) -> None:
    reply = Reply(status=489, headers={"Upstash-NonRetryable-Error": "true"})
    with Receiver(lambda _, __: reply) as receiver:
        body = {"stateToken": "t", "steps": [{"id": "s", "destination": receiver.url()}]}
        _start(aws, "nr", body)
        result = _fire_armed(aws, "nr", FakeClock())
        assert len(receiver.wait_for(1)) == 1
    assert result == StepResult(ok=False, reason="failed", error="HTTP 489")
    assert _flow(aws, "nr")["status"] == "FAILED"


def test_step_retry_delay_expression_sets_the_backoff(aws: Aws) -> None:
    with Receiver(lambda _, __: Reply(status=500)) as receiver:
        step = {"id": "s", "destination": receiver.url(), "retryDelay": "(retried + 1) * 1000"}
        _start(aws, "rd", {"stateToken": "t", "steps": [step]})
        clock = FakeClock()
        started = clock.now
        _fire_armed(aws, "rd", clock)
        due = wiring.graph().flow_runner.store.get("rd").steps[0].due_at
        assert len(receiver.wait_for(1)) == 1
    assert due is not None
    assert round((due - started).total_seconds()) == 1


def test_bad_step_retry_delay_is_a_400_naming_the_step(aws: Aws) -> None:
    step = {"id": "s", "destination": "https://x.io", "retryDelay": "retried +"}
    response = _start(aws, "bad-rd", {"stateToken": "t", "steps": [step]})
    assert response.status == 400
    assert "steps[0].retryDelay is not a valid delay expression" in response.json["error"]


def test_a_step_header_duetime_sets_itself_is_a_400_naming_the_step(aws: Aws) -> None:
    step = {"id": "s", "destination": "https://x.io", "headers": {"Upstash-Signature": "forged"}}
    response = _start(aws, "forged", {"stateToken": "t", "steps": [step]})
    assert response.status == 400
    assert "steps[0].headers.Upstash-Signature is set by duetime" in response.json["error"]


def test_an_over_long_idempotency_key_is_a_400_naming_the_limit(aws: Aws) -> None:
    # A 3,000-character key used to be accepted, and the step never ran.
    step = {"id": "s", "destination": "https://x.io", "idempotencyKey": "k" * 3000}
    response = _start(aws, "long-key", {"stateToken": "t", "steps": [step]})
    assert response.status == 400
    assert response.json["error"] == "steps[0].idempotencyKey is 3000 bytes; at most 512"
    assert call("GET", "/v2/flows/long-key", token=aws.token).status == 404


def test_a_flow_reusing_sent_keys_shows_each_step_skipped_and_who_sent_it(
    aws: Aws, receiver: Receiver
) -> None:
    # Given a flow whose two steps were sent
    steps = [
        {"id": "a", "destination": receiver.url(), "idempotencyKey": "shared:a"},
        {"id": "b", "destination": receiver.url(), "idempotencyKey": "shared:b"},
    ]
    _start(aws, "first", {"stateToken": "t", "steps": steps})
    clock = FakeClock()
    while _fire_armed(aws, "first", clock) is not None:
        pass
    assert len(receiver.wait_for(2)) == 2
    # When a second flow reuses the same idempotency keys
    _start(aws, "second", {"stateToken": "t", "steps": steps})
    results = []
    while (result := _fire_armed(aws, "second", clock)) is not None:
        results.append(result)
    # Then it sends nothing, and its ledger says each step was already sent, and by whom
    assert results == [StepResult(skipped=True, reason="already_sent")] * 2
    assert len(receiver.wait_for(3, timeout=0.5)) == 2
    flow = _flow(aws, "second")
    assert flow["status"] == "COMPLETED"
    assert [(s["status"], s["reason"], s["sentBy"]) for s in flow["steps"]] == [
        ("SKIPPED", "already_sent", {"flowId": "first", "stepId": "a"}),
        ("SKIPPED", "already_sent", {"flowId": "first", "stepId": "b"}),
    ]
