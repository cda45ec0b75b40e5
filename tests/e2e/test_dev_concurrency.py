"""The dev server answers API requests side by side, each with its own route arguments."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import DevProcess, start_dev
from tests.helpers.receiver import Receiver


def test_concurrent_reads_each_get_their_own_message(dev: DevProcess, receiver: Receiver) -> None:
    headers = {"Authorization": f"Bearer {dev.token}"}
    with httpx.Client(base_url=dev.url, headers=headers, timeout=10) as api:
        ids = [
            api.post(
                f"/v2/publish/{receiver.url()}", headers={"Upstash-Delay": "1h"}, content=str(n)
            ).json()["messageId"]
            for n in range(40)
        ]

    def read(message_id: str) -> str:
        # A client per thread: its own keep-alive connection, so requests really overlap.
        with httpx.Client(base_url=dev.url, headers=headers, timeout=10) as own:
            return str(own.get(f"/v2/messages/{message_id}").json()["messageId"])

    # When 8 threads read 40 different messages 5 times each, all at once
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(read, ids * 5))
    # Then every answer is the message asked for (Powertools' per-request state stays apart)
    assert answers == ids * 5


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_dev_server_stops_on_sigint_and_sigterm(stop: signal.Signals) -> None:
    process, dev = start_dev()
    with httpx.Client(timeout=5) as client:
        client.get(f"{dev.url}/v2/keys", headers={"Authorization": f"Bearer {dev.token}"})
    process.send_signal(stop)
    # The CLI bounds its shutdown (functions/local/cli.py): 2 s is the promise.
    assert process.wait(timeout=2) == 0
