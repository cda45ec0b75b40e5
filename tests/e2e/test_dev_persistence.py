"""`duetime dev --db PATH`: state outlives the process, and a bad file is refused unchanged."""

from __future__ import annotations

import hashlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import DevProcess, start_dev, stop_dev
from tests.helpers.receiver import Receiver
from tests.helpers.waiting import eventually


def _client(dev: DevProcess) -> httpx.Client:
    return httpx.Client(
        base_url=dev.url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=10
    )


def _run_dev(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `duetime dev` expecting it to refuse to start."""
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "duetime.cli", "dev", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_pending_work_carries_on_after_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    db = str(tmp_path / "duetime.db")
    # Given a message due in 2 s, a flow whose first step is due in 2 s and a schedule
    process, dev = start_dev("--db", db)
    with _client(dev) as api:
        message_id = api.post(
            f"/v2/publish/{receiver.url('/msg')}", headers={"Upstash-Delay": "2s"}, content="m"
        ).json()["messageId"]
        flow = {
            "stateToken": "t",
            "steps": [{"id": "one", "destination": receiver.url("/step"), "delay": "2s"}],
        }
        assert api.post("/v2/flows/f-1", json=flow).status_code == 201
        schedule = api.post(
            f"/v2/schedules/{receiver.url('/cron')}", headers={"Upstash-Cron": "0 9 * * *"}
        ).json()["scheduleId"]
    # When the server stops before they fall due, and starts again after
    stop_dev(process)
    time.sleep(2.5)
    process, dev = start_dev("--db", db)
    try:
        # Then what fell due while it was down is delivered at once, once each
        arrived = receiver.wait_for(2, timeout=10)
        assert sorted(r.path for r in arrived) == ["/msg", "/step"]
        by_path = {r.path: r for r in arrived}
        assert by_path["/msg"].headers["Upstash-Message-Id"] == message_id
        with _client(dev) as api:
            # Recorded once the receiver's answer is read, a moment after it arrived
            eventually(
                lambda: api.get(f"/v2/messages/{message_id}").json()["state"],
                lambda state: state == "DELIVERED",
            )
            assert api.get(f"/v2/schedules/{schedule}").json()["cron"] == "0 9 * * *"
            steps = eventually(
                lambda: api.get("/v2/flows/f-1").json()["steps"],
                lambda s: s[0]["status"] == "SENT",
            )
            assert steps[0]["status"] == "SENT"
        assert "state in" in "".join(dev.output)
    finally:
        stop_dev(process)
    assert len(receiver.wait_for(3, timeout=0.5)) == 2


def test_a_kill_mid_burst_loses_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "burst.db")
    with Receiver() as receiver:
        process, dev = start_dev("--db", db)
        with _client(dev) as api:
            ids = {
                api.post(
                    f"/v2/publish/{receiver.url()}", headers={"Upstash-Delay": "1s"}, content=str(n)
                ).json()["messageId"]
                for n in range(200)
            }
        # Given the burst has started arriving, when the server is killed outright
        receiver.wait_for(1, timeout=10)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        # Then a restart delivers every message: at least once, always under its own id
        process, dev = start_dev("--db", db)
        try:
            eventually(
                lambda: {r.headers["Upstash-Message-Id"] for r in receiver.requests},
                lambda seen: seen >= ids,
                timeout=30,
            )
            delivered = {r.headers["Upstash-Message-Id"] for r in receiver.requests}
            assert delivered == ids
        finally:
            stop_dev(process)


def test_sigterm_mid_burst_exits_promptly(receiver: Receiver) -> None:
    process, dev = start_dev()
    with _client(dev) as api:
        for n in range(100):
            api.post(f"/v2/publish/{receiver.url()}", content=str(n))
    process.send_signal(signal.SIGTERM)
    # The CLI bounds its shutdown (functions/local/cli.py): 2 s is the promise.
    assert process.wait(timeout=2) == 0


def test_a_corrupt_db_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "not-a-db"
    db.write_bytes(b"this is not sqlite" * 100)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    result = _run_dev("--db", str(db))
    assert result.returncode == 1
    assert "is not a usable duetime database" in result.stderr
    assert "Traceback" not in result.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_a_db_in_use_by_another_server_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    process, _ = start_dev("--db", db)
    try:
        result = _run_dev("--db", db)
    finally:
        stop_dev(process)
    assert result.returncode == 1
    assert "in use by another duetime process" in result.stderr


def test_a_db_path_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    missing = _run_dev("--db", str(tmp_path / "no" / "such" / "folder.db"))
    folder = _run_dev("--db", str(tmp_path))
    assert missing.returncode == folder.returncode == 1
    assert "does not exist" in missing.stderr
    assert "is a directory" in folder.stderr


def test_a_busy_port_is_one_line_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "duetime.cli", "dev", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"duetime dev: port {port} is already in use; pick another with "
        "`duetime dev --port N` (or `make dev PORT=N`)"
    ]
