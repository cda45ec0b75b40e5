"""The official JS SDK (@upstash/qstash) against `duetime dev`, base URL and token changed only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import JS_DIR, DevProcess
from tests.helpers.receiver import Receiver, Reply

pytestmark = pytest.mark.e2e


def _node(script: str, env: dict[str, str], *, timeout: float = 60) -> dict[str, Any]:
    """Run one of tests/e2e/js's scripts; its last stdout line is its JSON result."""
    run = subprocess.run(  # noqa: S603 - node from PATH and our own script
        [str(shutil.which("node")), script],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_js_sdk_publishes_reads_back_and_cancels(
    dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    # Given the JS SDK configured with duetime's URL and token
    env = {
        **os.environ,
        "QSTASH_URL": dev.url,
        "QSTASH_TOKEN": dev.token,
        "DESTINATION": receiver.url("/js"),
    }
    # When it publishes (1 s delay), publishes for later, reads that back and cancels it
    result = _node("smoke.mjs", env)
    # Then every call parsed duetime's answers, and only the first message is delivered
    assert result["readBack"]["messageId"] == result["later"]["messageId"]
    assert result["readBack"]["url"] == receiver.url("/js")
    (request,) = receiver.wait_for(1, timeout=10)
    assert json.loads(request.body) == {"from": "js"}
    assert request.headers["Upstash-Message-Id"] == result["delivered"]["messageId"]
    assert len(receiver.wait_for(2, timeout=1.0)) == 1


def test_js_sdk_dev_mode_finds_duetime_dev_and_verifies_its_deliveries(
    dev: DevProcess, node_modules: Path
) -> None:
    # Given an app with QSTASH_DEV=1 and no URL, token or signing keys of its own
    env = {k: v for k, v in os.environ.items() if not k.startswith("QSTASH_")}
    env |= {"QSTASH_DEV": "1", "QSTASH_DEV_PORT": dev.url.rsplit(":", 1)[1]}
    # When it publishes with `new Client()` and verifies with `new Receiver()`
    run = subprocess.run(  # noqa: S603 - node from PATH and our own script
        [str(shutil.which("node")), "devmode.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # Then the SDK took duetime dev for its dev server (no binary download, nothing refused),
    # the message was delivered, and the SDK's own dev keys verify duetime's signature
    assert run.returncode == 0, run.stderr + run.stdout
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["published"]["messageId"].startswith("msg_")
    assert json.loads(result["body"]) == {"from": "dev-mode"}
    assert result["verified"] is True
    assert "Server already running" in run.stdout + run.stderr


def test_js_sdk_batch_and_batch_json_deliver_each_item(
    either_dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    env = {
        **os.environ,
        "QSTASH_URL": either_dev.url,
        "QSTASH_TOKEN": either_dev.token,
        "DESTINATION": receiver.url("/jsbatch"),
    }
    result = _node("batch.mjs", env)
    # The SDK parsed one answer per item, in order, and surfaced the refusal by index
    json_ids = [a["messageId"] for a in result["json"]]
    (raw_answer,) = result["raw"]
    assert "batch message 0: Upstash-Method" in result["refused"]
    # And the three good items arrive once each, with their own body, header and method
    received = {r.path: r for r in receiver.wait_for(3, timeout=15)}
    assert set(received) == {"/jsbatch/json-1", "/jsbatch/json-2", "/jsbatch/raw"}
    assert received["/jsbatch/json-1"].headers["Upstash-Message-Id"] == json_ids[0]
    assert received["/jsbatch/json-2"].headers["X-Tag"] == "two"
    assert json.loads(received["/jsbatch/json-2"].body) == {"n": 2}
    assert received["/jsbatch/raw"].method == "PUT"
    assert received["/jsbatch/raw"].body == b"plain text"
    assert received["/jsbatch/raw"].headers["Upstash-Message-Id"] == raw_answer["messageId"]
    assert len(receiver.wait_for(4, timeout=1.5)) == 3


def test_js_sdk_url_groups_round_trip_and_fan_out(
    either_dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    env = {
        **os.environ,
        "QSTASH_URL": either_dev.url,
        "QSTASH_TOKEN": either_dev.token,
        "DESTINATION": receiver.url("/jsgroup"),
        "GROUP": "js-group-" + os.urandom(4).hex(),
    }
    result = _node("urlgroups.mjs", env)
    assert [e.get("name") for e in result["group"]["endpoints"]] == ["first", None]
    assert env["GROUP"] in result["listed"]
    assert sorted(p["url"] for p in result["published"]) == [
        receiver.url("/jsgroup/js-1"),
        receiver.url("/jsgroup/js-2"),
    ]
    assert [e["url"] for e in result["after"]["endpoints"]] == [receiver.url("/jsgroup/js-2")]
    assert "not found" in result["gone"]
    received = receiver.wait_for(2, timeout=15)
    assert sorted(r.path for r in received) == ["/jsgroup/js-1", "/jsgroup/js-2"]
    ids = {p["messageId"] for p in result["published"]}
    assert {r.headers["Upstash-Message-Id"] for r in received} == ids


def test_js_sdk_bulk_cancel_and_dlq_by_filter_and_all(
    fresh_dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    with Receiver(lambda _request, _n: Reply(status=500)) as failing:
        env = {
            **os.environ,
            "QSTASH_URL": fresh_dev.url,
            "QSTASH_TOKEN": fresh_dev.token,
            "OK_URL": receiver.url("/bulk"),
            "FAIL_URL": failing.url("/bulk-fail"),
        }
        result = _node("bulk.mjs", env, timeout=90)
        # The two-valued filter cancelled exactly a and b; all: true the one left
        assert result["byFilter"] == {"cancelled": 2}
        assert result["byAll"] == {"cancelled": 1}
        # The three failures reached the DLQ; the blue one was retried by its label ...
        assert result["listed"] == 3
        (retried,) = result["retried"]["responses"]
        # ... failed again and came back (2 red, the blue under its new id), and all: true,
        # a page of one at a time following the cursor, deleted all three
        assert result["back"] == 3
        assert result["deleted"] == 3
        assert result["left"] == 0
        # And the older spellings: messages.deleteMany / deleteAll, dlq.deleteMany
        assert (result["deletedMany"], result["deletedAll"]) == (2, 1)
        assert result["dlqDeletedMany"] == {"deleted": 2}
        # The retry was published again (and fails again at the receiver)
        assert any(
            r.headers.get("Upstash-Message-Id") == retried["messageId"]
            for r in failing.wait_for(6, timeout=15)
        )
    # Nothing cancelled was delivered
    assert receiver.wait_for(1, timeout=1.0) == []


def test_js_sdk_queues_hold_while_paused_and_deliver_in_order(
    either_dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    env = {
        **os.environ,
        "QSTASH_URL": either_dev.url,
        "QSTASH_TOKEN": either_dev.token,
        "DESTINATION": receiver.url("/jsqueue"),
        "QUEUE": "js-queue-" + os.urandom(4).hex(),
    }
    result = _node("queues.mjs", env)
    assert (result["paused"]["paused"], result["paused"]["parallelism"]) == (True, 1)
    assert result["waiting"]["lag"] == 3
    assert env["QUEUE"] in result["listed"]
    assert (result["drained"]["lag"], result["drained"]["paused"]) == (0, False)
    assert "not found" in result["gone"]
    received = receiver.wait_for(3, timeout=15)
    assert [r.path for r in received] == ["/jsqueue/js-0", "/jsqueue/js-1", "/jsqueue/js-2"]
    assert [r.headers["Upstash-Message-Id"] for r in received] == [
        e["messageId"] for e in result["enqueued"]
    ]


def test_js_sdk_flow_control_round_trip(
    either_dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    env = {
        **os.environ,
        "QSTASH_URL": either_dev.url,
        "QSTASH_TOKEN": either_dev.token,
        "DESTINATION": receiver.url("/jsfc"),
        "KEY": "js-key-" + os.urandom(4).hex(),
    }
    result = _node("flowcontrol.mjs", env)
    message = result["message"]
    assert (message["flowControlKey"], message["parallelism"], message["rate"]) == (
        env["KEY"],
        1,
        10,
    )
    assert message["period"] == 60
    assert (result["paused"]["flowControlKey"], result["paused"]["isPaused"]) == (env["KEY"], True)
    assert (result["pinned"]["parallelismMax"], result["pinned"]["isPinnedParallelism"]) == (
        2,
        True,
    )
    # The reset started a new period then (a waiting message may have started in it since)
    assert result["reset"]["isPinnedParallelism"] is False
    assert result["reset"]["ratePeriodStart"] >= result["resetAt"] - 50
    assert result["reset"]["rateCount"] <= 1
    assert result["overall"]["parallelismMax"] == 0
    received = receiver.wait_for(3, timeout=15)
    assert sorted(r.path for r in received) == ["/jsfc/js-0", "/jsfc/js-1", "/jsfc/js-2"]


def test_js_sdk_schedules_round_trip_and_the_log(
    either_dev: DevProcess, receiver: Receiver, node_modules: Path
) -> None:
    env = {
        **os.environ,
        "QSTASH_URL": either_dev.url,
        "QSTASH_TOKEN": either_dev.token,
        "DESTINATION": receiver.url("/jssched"),
        "QUEUE": "js-sched-queue-" + os.urandom(4).hex(),
    }
    result = _node("schedules.mjs", env)
    created = result["created"]
    assert (created["cron"], created["destination"], created["retries"]) == (
        "0 9 * * 1",
        receiver.url("/jssched/cron"),
        2,
    )
    assert (result["paused"]["isPaused"], result["resumed"]["isPaused"]) == (True, False)
    assert result["scheduleId"] in result["listed"]
    assert result["queuedView"]["queueName"] == env["QUEUE"]
    assert "not found" in result["gone"]
    states = {entry["state"] for entry in result["logs"]["logs"]}
    assert {"CREATED", "DELIVERED"} <= states
    assert {e["messageId"] for e in result["events"]["logs"]} == {result["published"]["messageId"]}
    (request,) = receiver.wait_for(1, timeout=10)
    assert request.path == "/jssched/logged"
