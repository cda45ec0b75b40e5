"""`duetime dev --processes N`: its processes start and end with the server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.e2e.conftest import start_dev, stop_dev
from tests.helpers.waiting import eventually


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_the_banner_names_them_and_sigterm_ends_them_with_the_server() -> None:
    process, dev = start_dev("--processes", "2")
    try:
        assert "2 worker processes" in "".join(dev.output)
        children = eventually(lambda: _children(process.pid), until=lambda c: len(c) >= 2)
        # multiprocessing's resource tracker is a child too; the two deliverers are among them
        assert len(children) >= 2
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=5)
        assert time.monotonic() - started < 2.5
        assert eventually(lambda: _alive(children), until=lambda a: not a, timeout=5) == []
    finally:
        stop_dev(process)


def test_a_server_killed_outright_takes_its_processes_with_it() -> None:
    process, _ = start_dev("--processes", "2")
    try:
        children = eventually(lambda: _children(process.pid), until=lambda c: len(c) >= 2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        # Nothing stops them but their watch on the parent: they must not linger on its queue
        assert eventually(lambda: _alive(children), until=lambda a: not a, timeout=10) == []
    finally:
        stop_dev(process)
