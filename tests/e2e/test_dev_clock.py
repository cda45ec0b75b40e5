"""`duetime dev --clock manual`, as a user starts it: the clock moves only when told, and a
delivery due an hour on arrives when the clock is advanced past it."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.e2e.conftest import start_dev, stop_dev
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.e2e


def test_a_manual_clock_dev_server_delivers_when_advanced(receiver: Receiver) -> None:
    process, dev = start_dev("--clock", "manual")
    try:
        auth = {"Authorization": f"Bearer {dev.token}"}
        published = httpx.post(
            f"{dev.url}/v2/publish/{receiver.url('/later')}",
            headers={**auth, "Upstash-Delay": "1h"},
            content=b"an hour on",
        )
        assert published.status_code == 201, published.text
        assert httpx.get(f"{dev.url}/v2/dev/clock", headers=auth).json()["mode"] == "manual"
        moved = httpx.post(
            f"{dev.url}/v2/dev/clock", headers=auth, json={"advance": "61m"}, timeout=30
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["fired"] >= 1
        assert [r.body for r in receiver.wait_for(1)] == [b"an hour on"]
    finally:
        stop_dev(process)
    assert any("manual clock at" in line for line in dev.output)


def test_a_manual_clock_needs_the_embedded_engine() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "duetime.cli",
            "dev",
            "--aws-emulation",
            "--clock",
            "manual",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "--clock manual needs the embedded engine" in result.stderr
