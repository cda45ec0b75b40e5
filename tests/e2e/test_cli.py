"""`duetime` against a running dev server (duetime.testing's, on a manual clock): every
command, its --json, its tables, its exit codes, and the typed client beneath it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from qstash import QStash
from typer.testing import CliRunner

from duetime.cli.app import app
from duetime.client import (
    AsyncDuetime,
    BadRequestError,
    ConflictError,
    DlqFilter,
    Duetime,
    NotFoundError,
    UnauthorizedError,
)
from duetime.testing import DuetimeTestServer, running
from tests.helpers.receiver import Received, Receiver, Reply

runner = CliRunner(env={"COLUMNS": "240"})  # tables unwrapped, as on a wide terminal


@pytest.fixture
def server() -> Iterator[DuetimeTestServer]:
    with running() as started:
        yield started


def cli(server: DuetimeTestServer, *args: str, code: int = 0) -> str:
    """Run `duetime ARGS --url … --token …`; the exit code must be `code`."""
    result = runner.invoke(app, [*args, "--url", server.url, "--token", server.token])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.output


def cli_json(server: DuetimeTestServer, *args: str) -> Any:
    return json.loads(cli(server, *args, "--json"))


def sdk(server: DuetimeTestServer) -> QStash:
    return QStash(server.token, base_url=server.url)


def publish(server: DuetimeTestServer, url: str, **options: Any) -> str:
    published = sdk(server).message.publish(url=url, body="hello", **options)
    return str(published.message_id)  # type: ignore[union-attr]


def test_messages_list_filters_get_and_table(server: DuetimeTestServer, receiver: Receiver) -> None:
    later = [publish(server, receiver.url("/later"), delay="1h", label="offers") for _ in range(2)]
    other = publish(server, receiver.url("/other"), delay="1h", label="digest")
    now = publish(server, receiver.url("/now"))
    server.advance("1s")
    receiver.wait_for(1)

    everything = cli_json(server, "messages", "list")
    # The manual clock stood still: all four were created in the same millisecond.
    assert sorted(m["messageId"] for m in everything) == sorted([now, other, *later])
    offers = cli_json(server, "messages", "list", "--label", "offers")
    assert sorted(m["messageId"] for m in offers) == sorted(later)
    delivered = cli_json(server, "messages", "list", "--state", "delivered")
    assert [m["messageId"] for m in delivered] == [now]
    assert (
        cli_json(server, "messages", "list", "--destination", receiver.url("/other"))[0][
            "messageId"
        ]
        == other
    )

    one = cli_json(server, "messages", "get", other)
    assert (one["state"], one["label"], one["body"]) == ("CREATED", "digest", "hello")
    assert "2 message(s)" in cli(server, "messages", "list", "--limit", "2")
    table = cli(server, "messages", "list", "--state", "DELIVERED")
    assert now in table
    assert "DELIVERED" in table


def test_messages_cancel_by_id_by_filter_and_only_all_pending_when_asked(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    offers = [publish(server, receiver.url(), delay="1h", label="offers") for _ in range(3)]
    digest = [publish(server, receiver.url(), delay="1h", label="digest") for _ in range(2)]

    assert cli_json(server, "messages", "cancel", offers[0]) == {
        "cancelled": 1,
        "notFound": [],
        "refused": [],
        "notTried": 0,
    }
    assert cli_json(server, "messages", "cancel", "--label", "offers") == {"cancelled": 2}
    # Naming nothing is a usage error, never "everything".
    assert "exactly one" in cli(server, "messages", "cancel", code=2)
    pending = cli_json(server, "messages", "list", "--state", "CREATED")
    assert sorted(m["messageId"] for m in pending) == sorted(digest)

    assert cli(server, "messages", "cancel", "--all-pending").strip() == "cancelled 2"
    states = {m["messageId"]: m["state"] for m in cli_json(server, "messages", "list")}
    assert set(states.values()) == {"CANCELED"}
    assert len(states) == 5


def test_a_bad_filter_is_a_one_line_error_naming_it(server: DuetimeTestServer) -> None:
    out = cli(server, "messages", "list", "--state", "LOST", code=1)
    assert "state LOST is not one of" in out
    assert "Traceback" not in out
    assert "no timezone" in cli(server, "messages", "list", "--from", "2026-12-01T09:00", code=2)


def test_messages_paging_reaches_every_message_once(server: DuetimeTestServer) -> None:
    ids = []
    for _ in range(7):  # each a second apart: newest first is then a known order
        ids.append(publish(server, "https://example.com/x", delay="1d"))
        server.advance("1s")
    with Duetime(server.url, server.token) as client:
        first = client.messages(count=3)
        assert len(first.messages) == 3
        assert first.cursor
        seen = [m.message_id for m in client.iter_messages()]
    assert seen == list(reversed(ids))
    assert len(cli_json(server, "messages", "list", "--limit", "5")) == 5


def _refusing_then_ok(fail_first: int) -> Receiver:
    def reply(_: Received, index: int) -> Reply:
        return Reply(status=500, body=b"boom") if index < fail_first else Reply()

    return Receiver(reply)


def test_dlq_list_get_retry_one_and_delete_by_filter(server: DuetimeTestServer) -> None:
    with _refusing_then_ok(3) as flaky:
        failed = [publish(server, flaky.url(f"/n{n}"), retries=0) for n in range(3)]
        server.advance("1s")
        flaky.wait_for(3)

        listed = cli_json(server, "dlq", "list")
        assert sorted(m["dlqId"] for m in listed) == sorted(failed)
        assert {m["responseStatus"] for m in listed} == {500}
        assert cli_json(server, "dlq", "get", failed[0])["responseBody"] == "boom"
        table = cli(server, "dlq", "list")
        assert "3 failed message(s)" in table

        assert cli_json(server, "dlq", "retry", failed[0])["retried"] == 1
        server.advance("1s")
        (again,) = flaky.wait_for(4)[3:]
        assert again.path == "/n0"

        assert cli_json(server, "dlq", "delete", "--destination", flaky.url("/n1")) == {
            "deleted": 1
        }
        assert [m["dlqId"] for m in cli_json(server, "dlq", "list")] == [failed[2]]
        assert "exactly one" in cli(server, "dlq", "delete", code=2)
        assert cli(server, "dlq", "get", "nope", code=3).startswith("duetime: 404")


def test_dlq_bulk_retry_by_filter_in_batches_and_delete_all(server: DuetimeTestServer) -> None:
    with _refusing_then_ok(130) as flaky:
        for _ in range(130):
            publish(server, flaky.url("/bulk"), retries=0)
        server.advance("1s")
        flaky.wait_for(130, timeout=60)
        # Two batches (100, then 30); each retried one leaves the DLQ and is delivered.
        assert cli_json(server, "dlq", "retry", "--status", "500") == {"retried": 130}
        server.advance("1s")
        flaky.wait_for(260, timeout=60)
        delivered = cli_json(server, "messages", "list", "--state", "DELIVERED", "--limit", "500")
        assert len(delivered) == 130
        assert cli_json(server, "dlq", "list") == []

    with _refusing_then_ok(3) as failing:
        for _ in range(3):
            publish(server, failing.url("/again"), retries=0)
        server.advance("1s")
        failing.wait_for(3)
    assert cli(server, "dlq", "delete", "--all").strip() == "deleted 3"
    assert cli_json(server, "dlq", "list") == []


def test_schedules_list_get_pause_resume_delete(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    schedule_id = sdk(server).schedule.create(
        destination=receiver.url("/tick"), cron="*/5 * * * *", body="tick"
    )
    (listed,) = cli_json(server, "schedules", "list")
    assert listed["scheduleId"] == schedule_id
    assert listed["nextScheduleTime"]
    assert "*/5 * * * *" in cli(server, "schedules", "list")

    assert cli(server, "schedules", "pause", schedule_id).strip() == f"paused {schedule_id}"
    assert cli_json(server, "schedules", "get", schedule_id)["isPaused"] is True
    server.advance("10m")
    assert receiver.requests == []
    cli(server, "schedules", "resume", schedule_id)
    assert cli_json(server, "schedules", "get", schedule_id)["isPaused"] is False
    server.advance("5m")
    receiver.wait_for(1)

    cli(server, "schedules", "delete", schedule_id)
    assert cli_json(server, "schedules", "list") == []
    assert cli(server, "schedules", "get", schedule_id, code=3).startswith("duetime: 404")


def _burst(url: str, flow: str) -> dict[str, Any]:
    def step(n: int, delay: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"step_{n}",
            "destination": url,
            "body": {"n": n},
            "delay": delay,
            "idempotencyKey": f"onboarding:{flow}:step_{n}",
            **extra,
        }

    return {
        "stateToken": "awaiting_burst",
        "steps": [
            step(1, "0s"),
            step(2, "8s"),
            step(3, "8s", setStateToken="burst_sent"),
            step(4, "0s", expectStateToken="burst_sent"),
        ],
    }


def test_flows_show_log_timing_replay_set_state_and_cancel(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    with Duetime(server.url, server.token) as client:
        client.start_flow("s-1", _burst(receiver.url("/sms"), "s-1"))
    server.advance("20s")
    receiver.wait_for(4)

    ledger = cli_json(server, "flows", "show", "s-1")
    assert ledger["status"] == "COMPLETED"
    assert [s["status"] for s in ledger["steps"]] == ["SENT"] * 4
    assert "step_4" in cli(server, "flows", "show", "s-1")
    events = cli_json(server, "flows", "log", "s-1")["events"]
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)

    timing = cli_json(server, "flows", "timing", "s-1")
    assert timing["withinTolerance"] is True
    assert [s["expectedSeconds"] for s in timing["steps"]] == [0, 8, 8, 0]
    assert [s["actualSeconds"] for s in timing["steps"]] == pytest.approx([0, 8, 8, 0], abs=0.5)
    off = cli(server, "flows", "timing", "s-1", "--expect", "0s,1s,1s,0s", code=1)
    assert "step_2, step_3" in off

    replayed = cli_json(server, "flows", "replay", "s-1", "step_2")
    assert replayed == {"ok": True, "skipped": True, "reason": "already_sent", "error": None}
    assert len(receiver.requests) == 4  # replays never send twice

    stale = cli(server, "flows", "set-state", "s-1", "reset", "--expect", "wrong", code=6)
    assert "duetime: 409" in stale
    assert cli_json(server, "flows", "set-state", "s-1", "reset")["stateToken"] == "reset"
    assert cli(server, "flows", "show", "nope", code=3).startswith("duetime: 404")


def test_flows_cancel_stops_what_is_armed(server: DuetimeTestServer, receiver: Receiver) -> None:
    with Duetime(server.url, server.token) as client:
        client.start_flow("s-2", _burst(receiver.url("/sms"), "s-2"))
    server.advance("1s")
    receiver.wait_for(1)
    assert cli_json(server, "flows", "cancel", "s-2")["status"] == "CANCELED"
    server.advance("1m")
    assert len(receiver.requests) == 1


def test_kill_switch_on_list_off(server: DuetimeTestServer) -> None:
    on = cli_json(server, "kill-switch", "on", "flows:onb-", "--reason", "incident 7")
    assert [(s["scope"], s["reason"]) for s in on["killSwitches"]] == [("flows:onb-", "incident 7")]
    assert "flows:onb-" in cli(server, "kill-switch", "list")
    assert cli_json(server, "kill-switch", "off", "flows:onb-") == {"killSwitches": []}
    assert "topic:x" in cli(server, "kill-switch", "on", "topic:x", code=1)


def test_keys_and_rotate(server: DuetimeTestServer) -> None:
    before = cli_json(server, "keys")
    assert before == {"current": server.current_signing_key, "next": server.next_signing_key}
    rotated = cli_json(server, "keys", "rotate")
    assert rotated["current"] == before["next"]
    assert rotated["next"] not in {before["current"], before["next"]}
    assert server.current_signing_key == before["next"]


def test_stats_answer_scenario_twos_questions(server: DuetimeTestServer) -> None:
    # By path, not by arrival: the two due now are delivered in parallel, in either order.
    def reply(received: Received, _: int) -> Reply:
        return Reply(status=500, body=b"boom") if received.path == "/fails" else Reply()

    with Receiver(reply) as flaky:
        publish(server, flaky.url("/fails"), retries=0)
        publish(server, flaky.url("/ok"))
        publish(server, flaky.url("/later"), delay="1h")
        server.advance("1s")
        flaky.wait_for(2)
    stats = cli_json(server, "stats", "--window", "1h")
    assert (stats["scheduled"], stats["failed"], stats["delivered"]) == (1, 1, 1)
    assert stats["successRate"] == 0.5
    assert stats["errors"][0]["sample"]["responseStatus"] == 500
    table = cli(server, "stats")
    assert "success rate" in table
    assert "50.0%" in table


def test_clock_reads_advances_and_sets(server: DuetimeTestServer, receiver: Receiver) -> None:
    publish(server, receiver.url(), delay="31d")
    start = cli_json(server, "clock")
    assert start["mode"] == "manual"
    moved = cli_json(server, "clock", "advance", "31d")
    assert moved["fired"] == 1
    receiver.wait_for(1)
    assert "must be a duration like 10s" in cli(server, "clock", "advance", "soon", code=2)
    later = cli_json(server, "clock", "set", "2099-01-01T00:00:00Z")
    assert later["now"].startswith("2099-01-01T00:00:00")
    assert "no timezone" in cli(server, "clock", "set", "2099-01-02T00:00:00", code=2)


def test_clock_moves_are_a_conflict_on_a_real_clock() -> None:
    from functions.local.embedded import EmbeddedServer

    real = EmbeddedServer(port=0)
    real.start()
    try:
        result = runner.invoke(
            app, ["clock", "advance", "1h", "--url", real.url, "--token", real.token]
        )
    finally:
        real.stop()
    assert result.exit_code == 6
    assert "--clock manual" in result.output


def _process(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m duetime.cli` as a user runs it: its own process, its own environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QSTASH_")}
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "duetime.cli", *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_a_wrong_token_or_url_is_one_line_and_a_nonzero_exit(server: DuetimeTestServer) -> None:
    refused = _process("stats", "--url", server.url, "--token", "wrong")
    assert refused.returncode == 4
    assert refused.stderr.count("\n") == 1
    assert f"{server.url} refused the token" in refused.stderr
    assert "Traceback" not in refused.stderr

    nobody = _process("messages", "list", "--url", "http://127.0.0.1:9", "--token", "t")
    assert nobody.returncode == 5
    assert nobody.stderr.startswith("duetime: cannot reach http://127.0.0.1:9")
    assert nobody.stderr.count("\n") == 1

    garbled = _process("stats", "--url", "not a url", "--token", "t")
    assert garbled.returncode == 2
    assert garbled.stderr == "duetime: the API URL must be http:// or https://, got 'not a url'\n"
    assert "Traceback" not in garbled.stderr


def test_the_environment_and_a_dotenv_file_point_it_at_a_server(
    server: DuetimeTestServer, tmp_path: Path
) -> None:
    from_env = _process(
        "kill-switch", "list", "--json", QSTASH_URL=server.url, QSTASH_TOKEN=server.token
    )
    assert from_env.returncode == 0, from_env.stderr
    assert json.loads(from_env.stdout) == {"killSwitches": []}

    (tmp_path / ".env").write_text(f"QSTASH_URL={server.url}\nQSTASH_TOKEN={server.token}\n")
    from_file = _process("keys", "--json", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["current"] == server.current_signing_key
    # The environment wins over the file.
    overridden = _process("keys", cwd=tmp_path, QSTASH_TOKEN="wrong")
    assert overridden.returncode == 4


def test_help_names_the_environment_variables_and_every_command() -> None:
    top = _process("--help")
    assert top.returncode == 0
    assert "QSTASH_URL" in top.stdout
    assert "QSTASH_TOKEN" in top.stdout
    for command in (
        "stats",
        "messages",
        "dlq",
        "schedules",
        "flows",
        "kill-switch",
        "keys",
        "clock",
        "dev",
    ):
        assert command in top.stdout
    sub = " ".join(_process("dlq", "retry", "--help").stdout.split())  # help wraps at 80
    assert "env var: QSTASH_URL" in sub
    assert "env var: QSTASH_TOKEN" in sub
    dev = _process("dev", "--help")
    assert "--clock" in dev.stdout  # the dev server's own flags, handed over


def test_the_async_client_raises_typed_errors(server: DuetimeTestServer) -> None:
    pending = publish(server, "https://example.com/x", delay="1h")
    asyncio.run(_async_client_calls(server, pending))


async def _async_client_calls(server: DuetimeTestServer, pending: str) -> None:
    async with AsyncDuetime(server.url, server.token) as client:
        assert [m.message_id async for m in client.iter_messages()] == [pending]
        assert [m async for m in client.iter_dlq()] == []
        assert (await client.clock()).mode == "manual"
        switches = await client.kill_switch_on("url:https://api.example.com/", reason="down")
        assert [s.scope for s in switches] == ["url:https://api.example.com/"]
        assert switches[0].since.tzinfo is not None
        with pytest.raises(NotFoundError, match="404"):
            await client.flow("missing")
        with pytest.raises(BadRequestError, match="window"):
            await client.stats(window="forever")
        with pytest.raises(ValueError, match="timezone-aware"):
            await client.set_clock(datetime(2030, 1, 1))  # noqa: DTZ001 - naive on purpose
        travelled = await client.advance_clock("2h")
        assert travelled.now - (await client.clock()).now == timedelta(0)
    async with AsyncDuetime(server.url, "wrong") as refused:
        with pytest.raises(UnauthorizedError):
            await refused.stats()


def test_the_sync_client_refuses_a_bulk_call_that_names_nothing(server: DuetimeTestServer) -> None:
    with Duetime(server.url, server.token) as client:
        with pytest.raises(ValueError, match="exactly one"):
            client.cancel_messages()
        with pytest.raises(ValueError, match="exactly one"):
            client.delete_dlq_many(selection=DlqFilter())
        step = {"id": "s", "destination": "https://example.com", "delay": "1h"}
        client.start_flow("f", {"stateToken": "a", "steps": [{**step, "idempotencyKey": "k"}]})
        with pytest.raises(ConflictError, match="409"):
            client.set_flow_state("f", "b", expect="not-a")
        assert client.flow("f").state_token == "a"


def test_the_readmes_operate_block_runs_as_written(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Operate", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(commands) >= 8
    # What the block talks about exists: an offer pending, and a finished session-42 flow.
    publish(server, receiver.url("/offer"), delay="1h", label="offers")
    with Duetime(server.url, server.token) as client:
        client.start_flow("session-42", _burst(receiver.url("/sms"), "session-42"))
    server.advance("20s")
    env = {"QSTASH_URL": server.url, "QSTASH_TOKEN": server.token}
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "duetime"
        ran = _process(*words[1:], **env)
        assert ran.returncode == 0, (command, ran.stderr)


def test_cancel_names_each_id_it_could_not_cancel_and_exits_non_zero(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    pending = publish(server, receiver.url(), delay="1h")
    done = publish(server, receiver.url())
    server.advance("1s")
    receiver.wait_for(1)

    unknown = cli(server, "messages", "cancel", "msg_nope", code=3)
    assert unknown.splitlines() == ["cancelled 0", "duetime: not found: msg_nope"]
    finished = cli(server, "messages", "cancel", done, code=6)
    assert f"already finished: {done}" in finished
    # The good one is still cancelled, and the bad one is named, not silently skipped.
    mixed = cli(server, "messages", "cancel", pending, "msg_nope", "--json", code=3)
    assert json.loads(mixed[mixed.index("{") :].split("duetime:")[0]) == {
        "cancelled": 1,
        "notFound": ["msg_nope"],
        "refused": [],
        "notTried": 0,
    }
    assert cli_json(server, "messages", "get", pending)["state"] == "CANCELED"


def test_dlq_retry_and_delete_by_id_name_the_ids_not_in_the_dlq(server: DuetimeTestServer) -> None:
    with _refusing_then_ok(1) as flaky:
        failed = publish(server, flaky.url("/f"), retries=0)
        server.advance("1s")
        flaky.wait_for(1)
        out = cli(server, "dlq", "retry", failed, "msg_gone", code=3)
        assert out.splitlines() == ["retried 1", "duetime: not found: msg_gone"]
        server.advance("1s")
        assert flaky.wait_for(2)[1].path == "/f"
    assert "not found: msg_gone" in cli(server, "dlq", "delete", "msg_gone", code=3)


def test_a_bulk_dlq_retry_never_retries_a_message_twice_when_it_fails_again(
    server: DuetimeTestServer,
) -> None:
    # The receiver always fails, and the manual clock stands still while it is nudged to
    # fire what is due: each retried message fails again during the walk, in the same
    # instant as the failures being walked, so it lands among the ones not yet retried.
    with Receiver(lambda _, __: Reply(status=500, body=b"down")) as down:
        originals = {publish(server, down.url("/d"), retries=0) for _ in range(150)}
        server.advance("1s")
        down.wait_for(150, timeout=60)

        walking = threading.Event()

        def fire_what_is_due() -> None:
            while walking.is_set():
                server.advance("0s")
                time.sleep(0.005)

        walking.set()
        nudger = threading.Thread(target=fire_what_is_due)
        nudger.start()
        try:
            retried = cli_json(server, "dlq", "retry", "--all")
        finally:
            walking.clear()
            nudger.join()
        assert retried == {"retried": 150}
        server.advance("0s")
        down.wait_for(300, timeout=60)
        time.sleep(0.5)  # a third attempt of any message would have landed by now
        assert len(down.requests) == 300

    with Duetime(server.url, server.token) as client:
        first = client.dlq(count=100)
        in_dlq = {m.dlq_id for m in first.messages}
        in_dlq |= {m.dlq_id for m in client.dlq(count=100, cursor=first.cursor).messages}
    assert len(in_dlq) == 150
    assert not in_dlq & originals  # each re-failure is its new message, once


def test_json_keeps_null_fields(server: DuetimeTestServer) -> None:
    stats = cli_json(server, "stats")
    assert "successRate" in stats
    assert stats["successRate"] is None  # nothing delivered yet: null, not a missing key


def test_a_url_that_is_not_duetime_is_one_line(server: DuetimeTestServer) -> None:
    text = Receiver(lambda _, __: Reply(body=b"hello, I am a web page"))
    html = Receiver(
        lambda _, __: Reply(
            status=502,
            headers={"Content-Type": "text/html"},
            body=b"<html>\n<head><title>502</title></head>\n<body>\n<h1>Bad Gateway</h1>\n</body>"
            b"\n</html>\n",
        )
    )
    with text, html:
        not_json = _process("stats", "--url", text.url(""), "--token", "t")
        assert not_json.returncode == 1
        assert not_json.stderr.count("\n") == 1
        assert "other than duetime's JSON" in not_json.stderr
        page = _process("messages", "list", "--url", html.url(""), "--token", "t")
        assert page.returncode == 1
        assert page.stderr == "duetime: 502: Bad Gateway\n"


def test_a_piped_table_keeps_each_id_on_one_line(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    long_url = receiver.url("/" + "a-rather-long-path/" * 8)
    message_id = publish(server, long_url, delay="1h")
    clean = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    piped = subprocess.run(
        [sys.executable, "-m", "duetime.cli", "messages", "list"],
        capture_output=True,
        text=True,
        env={**clean, "QSTASH_URL": server.url, "QSTASH_TOKEN": server.token},
        timeout=60,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    (row,) = [line for line in piped.stdout.splitlines() if message_id in line]
    assert long_url in row


def test_kill_switch_needs_a_scope_to_switch_and_list_filters_by_one(
    server: DuetimeTestServer,
) -> None:
    assert "needs a SCOPE" in cli(server, "kill-switch", "on", code=2)
    assert "needs a SCOPE" in cli(server, "kill-switch", "off", code=2)
    assert cli_json(server, "kill-switch", "list") == {"killSwitches": []}  # nothing switched

    cli(server, "kill-switch", "on", "url:https://a.example.com/")
    cli(server, "kill-switch", "on", "flows:onb-")
    only_urls = cli_json(server, "kill-switch", "list", "url:")
    assert [s["scope"] for s in only_urls["killSwitches"]] == ["url:https://a.example.com/"]
    assert len(cli_json(server, "kill-switch", "list")["killSwitches"]) == 2


def test_messages_get_shows_a_binary_body_as_base64(
    server: DuetimeTestServer, receiver: Receiver
) -> None:
    raw = bytes([0xFF, 0x00, 0xFE])
    published = httpx.post(
        f"{server.url}/v2/publish/{receiver.url()}",
        content=raw,
        headers={"Authorization": f"Bearer {server.token}", "Upstash-Delay": "1h"},
    ).json()
    shown = cli_json(server, "messages", "get", published["messageId"])
    assert (shown["body"], shown["bodyBase64"]) == (None, base64.b64encode(raw).decode())
    assert base64.b64encode(raw).decode() in cli(server, "messages", "get", published["messageId"])


def test_a_bulk_retry_by_ids_is_all_or_none(server: DuetimeTestServer) -> None:
    with _refusing_then_ok(1) as flaky:
        failed = publish(server, flaky.url("/f"), retries=0)
        server.advance("1s")
        flaky.wait_for(1)
    with Duetime(server.url, server.token) as client:
        with pytest.raises(NotFoundError, match="not in the dlq: msg_gone"):
            client.retry_dlq_many([failed, "msg_gone"])
        # Nothing was retried: the good one is still in the DLQ, and no new message exists.
        assert [m.dlq_id for m in client.dlq().messages] == [failed]
        assert [m.message_id for m in client.iter_messages()] == [failed]


def test_dlq_list_follows_the_cursor_past_a_short_filtered_page(server: DuetimeTestServer) -> None:
    # One "rare" failure under 1,100 newer ones: the server reads at most 1,000 per page, so
    # its first page for label=rare is empty but carries a cursor.
    with Receiver(lambda _, __: Reply(status=500)) as down:
        rare = publish(server, down.url("/rare"), retries=0, label="rare")
        server.advance("1s")
        down.wait_for(1)
        batch = [
            {"destination": down.url("/bulk"), "body": "x", "headers": {"Upstash-Retries": "0"}}
        ]
        for _ in range(11):
            sent = httpx.post(
                f"{server.url}/v2/batch",
                json=batch * 100,
                headers={"Authorization": f"Bearer {server.token}"},
                timeout=30,
            )
            assert sent.status_code == 201, sent.text
        server.advance("1s")
        down.wait_for(1101, timeout=120)
    with Duetime(server.url, server.token) as client:
        first = client.dlq(DlqFilter(label=["rare"]))
    assert (first.messages, first.cursor is not None) == ([], True)
    assert [m["dlqId"] for m in cli_json(server, "dlq", "list", "--label", "rare")] == [rare]


def test_a_404_that_is_not_duetimes_never_says_no_such_id(server: DuetimeTestServer) -> None:
    page = Reply(status=404, headers={"Content-Type": "text/html"}, body=b"<h1>Not Found</h1>")
    with Receiver(lambda _, __: page) as proxy:
        ran = _process(
            "messages", "cancel", "msg_a", "msg_b", "--url", proxy.url(""), "--token", "t"
        )
    assert ran.returncode == 1, ran.stderr
    assert "not found: msg_a" not in ran.stderr
    assert "is the URL the duetime API?" in ran.stderr


def test_a_failure_mid_run_reports_what_was_done_and_exits_with_its_code(
    server: DuetimeTestServer,
) -> None:
    ran = _process("messages", "cancel", "msg_a", "msg_b", "--url", server.url, "--token", "bad")
    assert ran.returncode == 4
    assert ran.stdout.strip() == "cancelled 0"
    assert "stopped with 2 id(s) not tried" in ran.stderr
    assert "refused the token" in ran.stderr


def test_on_a_terminal_a_long_key_never_hides_the_other_columns(server: DuetimeTestServer) -> None:
    scope = "url:https://hooks.example.com/" + "very/long/path/" * 6
    cli(server, "kill-switch", "on", scope, "--reason", "rollback-42")
    narrow = CliRunner(env={"COLUMNS": "80"}).invoke(
        app, ["kill-switch", "list", "--url", server.url, "--token", server.token]
    )
    assert narrow.exit_code == 0, narrow.output
    assert "rollback-42" in narrow.output
    key_cells = [line.split("│")[1].strip() for line in narrow.output.splitlines() if "│" in line]
    assert "".join(key_cells) == scope  # folded over lines, but whole


def test_dlq_get_shows_a_binary_body_as_base64(server: DuetimeTestServer) -> None:
    raw = bytes([0xFF, 0x00, 0xFE])
    with Receiver(lambda _, __: Reply(status=500)) as down:
        published = httpx.post(
            f"{server.url}/v2/publish/{down.url()}",
            content=raw,
            headers={"Authorization": f"Bearer {server.token}", "Upstash-Retries": "0"},
        ).json()
        server.advance("1s")
        down.wait_for(1)
    shown = cli(server, "dlq", "get", published["messageId"])
    assert base64.b64encode(raw).decode() in shown
    assert "body (base64)" in shown
