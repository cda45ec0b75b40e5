"""`duetime dev`'s worker processes: deliveries from processes of their own, on one file."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from functions.adapters.sqlite.db import open_database, open_guest
from functions.adapters.sqlite.messages import SqliteMessageStore
from functions.local.embedded import EmbeddedServer
from functions.local.worker_processes import WriteLock, _remove_abandoned
from functions.ports import ClaimRejectedError
from tests.contract.builders import T0, claim, created
from tests.helpers.receiver import Received, Receiver, Reply
from tests.helpers.waiting import eventually

MESSAGES = 30


def _flaky_once(received: Received, _: int) -> Reply:
    """500 to the first attempt at /flaky, 200 to everything else."""
    first = received.headers.get("Upstash-Retried") == "0"
    return Reply(status=500) if received.path == "/flaky" and first else Reply()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    dev = EmbeddedServer(port=0, processes=2, workers=2, log_level="WARNING")
    dev.start()
    try:
        yield dev
    finally:
        dev.stop()


def _publish(server: EmbeddedServer, destination: str, **headers: str) -> str:
    response = httpx.post(
        f"{server.url}/v2/publish/{destination}",
        headers={"Authorization": f"Bearer {server.token}", **headers},
        content=b"{}",
    )
    assert response.status_code == 201, response.text
    return str(response.json()["messageId"])


def _state(server: EmbeddedServer, message_id: str) -> str:
    response = httpx.get(
        f"{server.url}/v2/messages/{message_id}",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


def test_deliveries_leave_from_the_processes_once_each(server: EmbeddedServer) -> None:
    with Receiver() as receiver:
        # Given messages published to the server
        ids = {_publish(server, receiver.url(f"/ok/{n}")) for n in range(MESSAGES)}
        # When they fall due, each arrives once, signed as always
        arrived = receiver.wait_for(MESSAGES)
        assert sorted(r.headers["Upstash-Message-Id"] for r in arrived) == sorted(ids)
        assert all(r.headers["Upstash-Signature"] for r in arrived)
        # And the server's own process sent none of them: its transport was never opened
        assert server.graph.http._tls is None  # type: ignore[attr-defined]
        # And the server reads back what the worker processes recorded
        for message_id in ids:
            state = eventually(
                lambda m=message_id: _state(server, m), until=lambda s: s == "DELIVERED"
            )
            assert state == "DELIVERED"


def _fresh_publish(server: EmbeddedServer, destination: str) -> httpx.Response:
    """A publish on a connection of its own: any process may accept it."""
    with httpx.Client() as client:
        return client.post(
            f"{server.url}/v2/publish/{destination}",
            headers={"Authorization": f"Bearer {server.token}"},
            content=b"{}",
        )


def test_the_worker_processes_serve_the_api_too(server: EmbeddedServer) -> None:
    # Given the server's own process counting the requests it answers
    answered_here: list[str] = []
    server.engine.http.log_request = lambda method, path, status, ms: answered_here.append(path)
    with Receiver() as receiver:
        # When 40 publishes arrive, each on a new connection
        responses = [_fresh_publish(server, receiver.url(f"/api/{n}")) for n in range(40)]
        # Then every one is taken and delivered once, wherever it was published
        assert [r.status_code for r in responses] == [201] * 40
        arrived = receiver.wait_for(40)
        assert sorted(r.headers["Upstash-Message-Id"] for r in arrived) == sorted(
            r.json()["messageId"] for r in responses
        )
    # And the server's process answered only some of them: the others answered the rest
    assert len(answered_here) < 40


def test_a_kill_switch_set_through_one_process_holds_in_all_at_once(
    server: EmbeddedServer,
) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    # Given every process has read the switches already (each publish reads them)
    assert {_fresh_publish(server, "http://127.0.0.1:9/x").status_code for _ in range(20)} == {201}
    turned_on = httpx.put(f"{server.url}/v2/kill-switches/all", headers=auth, json={})
    assert turned_on.status_code == 200, turned_on.text
    # Whichever process takes each of these publishes, each is refused
    refused = [_fresh_publish(server, "http://127.0.0.1:9/x").status_code for _ in range(20)]
    assert set(refused) == {503}


def test_what_an_attempt_arms_comes_back_to_the_servers_timers(server: EmbeddedServer) -> None:
    with Receiver(_flaky_once) as receiver:
        # Given a message whose first attempt fails, with a callback, retried at once
        message_id = _publish(
            server,
            receiver.url("/flaky"),
            **{
                "Upstash-Retries": "2",
                "Upstash-Retry-Delay": "0",
                "Upstash-Callback": receiver.url("/callback"),
            },
        )
        # When it has been retried, and the callback sent for each attempt (each armed in a
        # worker process, and so fired by the server's heap)
        arrived = receiver.wait_for(4)
        paths = sorted(r.path for r in arrived)
        assert paths == ["/callback", "/callback", "/flaky", "/flaky"]
        retried = [r for r in arrived if r.path == "/flaky"]
        assert [r.headers["Upstash-Retried"] for r in retried] == ["0", "1"]
        assert all(r.headers["Upstash-Message-Id"] == message_id for r in retried)


def test_a_server_without_db_keeps_its_shared_file_only_while_it_runs(tmp_path: Path) -> None:
    dev = EmbeddedServer(port=0, processes=1, workers=1, log_level="WARNING")
    dev.start()
    scratch = dev.engine.scratch
    assert scratch is not None
    try:
        assert Path(scratch.path).is_file()
        assert "1 worker processes" in dev.banner()
    finally:
        dev.stop()
    assert not Path(scratch.path).parent.exists()


def test_a_manual_clock_refuses_processes() -> None:
    with pytest.raises(ValueError, match="manual clock"):
        EmbeddedServer(port=0, processes=1, clock_mode="manual").start()


def _claim_all(path: str, start: object, ids: list[str], token: str, out: object) -> None:
    store = SqliteMessageStore(open_guest(path, process_lock=WriteLock(path)))
    claim(store, ids[0], now=T0, token=token)  # warm: its own message, before the race
    start.wait()  # type: ignore[attr-defined]
    out.put(_claimed(store, ids[1:], token))  # type: ignore[attr-defined]


def _claimed(store: SqliteMessageStore, ids: list[str], token: str) -> list[str]:
    won = []
    for message_id in ids:
        try:
            claim(store, message_id, now=T0, token=token)
            won.append(message_id)
        except ClaimRejectedError:
            pass
    return won


def test_processes_racing_for_the_same_claims_win_each_once(tmp_path: Path) -> None:
    # Given due messages in a file that two guest processes share with its owner
    context = multiprocessing.get_context("spawn")
    path = str(tmp_path / "race.db")
    owner = open_database(path, process_lock=WriteLock(path))
    store = SqliteMessageStore(owner)
    ids = [created(store, due=T0).message_id for _ in range(200)]
    warmups = [created(store, due=T0).message_id for _ in range(3)]
    out = context.Queue()
    start = context.Barrier(3)
    # When both claim every one of them at once, from the first, and the owner from the last
    # (each warmed up on a message of its own, so a process's first claim is not its slowest)
    racers = [
        context.Process(target=_claim_all, args=(path, start, [warmups[n], *ids], f"p{n}", out))
        for n in range(2)
    ]
    for racer in racers:
        racer.start()
    claim(store, warmups[2], now=T0, token="owner")
    start.wait(timeout=60)
    mine = _claimed(store, ids[::-1], "owner")
    won = [*mine, *out.get(timeout=60), *out.get(timeout=60)]
    for racer in racers:
        racer.join(10)
    owner.close()
    # Then each message was won exactly once, and not all by one of them
    assert sorted(won) == sorted(ids)
    assert len(mine) < len(ids)


def test_scratch_files_of_killed_servers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    # Given a scratch folder whose server died (its flock is free), one in use (held), and
    # one made a moment ago whose server has yet to open it
    dead, live, fresh = (tmp_path / f"duetime-scratch-{name}" for name in ("a", "b", "c"))
    for folder in (dead, live, fresh):
        folder.mkdir()
    (dead / "state.db.lock").touch()
    (live / "state.db.lock").touch()
    an_hour_ago = time.time() - 3600
    for folder in (dead, live):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    with (live / "state.db.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        # When the next server makes its own scratch file there
        _remove_abandoned(tmp_path)
        # Then only the dead server's folder is gone
        assert (dead.exists(), live.exists(), fresh.exists()) == (False, True, True)
