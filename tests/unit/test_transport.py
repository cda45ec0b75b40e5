"""The graph's transport loads httpx at the first send, so the API handler never loads it."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from bench.cold_start import ENV
from functions.services.transport import LazyTransport
from tests.helpers.receiver import Receiver


def test_the_schedule_handlers_cold_init_does_not_import_httpx() -> None:
    # The same cold init bench/cold_start.py times, in a fresh interpreter.
    snippet = (
        "import sys; from functions.handlers import schedule; from functions import wiring; "
        "wiring.graph().message_service; "
        "print(__import__('json').dumps(sorted(m for m in sys.modules if m.startswith('httpx'))))"
    )
    ran = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    assert json.loads(ran.stdout.splitlines()[-1]) == []


def test_a_lazy_transport_sends_through_httpx_and_closes(receiver: Receiver) -> None:
    transport = LazyTransport()
    transport.close()  # closing one never used builds nothing and is harmless
    response = transport.handle_request(httpx.Request("POST", receiver.url("/lazy"), content=b"x"))
    response.read()
    assert response.status_code == 200
    (got,) = receiver.wait_for(1)
    assert (got.path, got.body) == ("/lazy", b"x")
    transport.close()
    again = transport.handle_request(httpx.Request("GET", receiver.url("/again")))
    again.read()
    assert again.status_code == 200  # a closed one builds a fresh transport on the next send
    transport.close()
