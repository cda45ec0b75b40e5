"""What a cold start defers: the graph's transport loads httpx at the first send, the signer
PyJWT and standardwebhooks at the first signature, cron parsing croniter at the first cron."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from bench.cold_start import ENV
from functions.services.transport import LazyTransport
from tests.helpers.receiver import Receiver

# What each function's cold init must not load: it is loaded at first use (an HTTP send, a
# signature, a cron parsed), which most invocations of that function never reach.
DEFERRED = {
    "schedule": ("httpx", "jwt", "standardwebhooks", "croniter"),
    "dispatch": ("jwt", "standardwebhooks", "croniter"),
}
BUILT = {"schedule": "message_service", "dispatch": "dispatcher"}


@pytest.mark.parametrize("handler", sorted(DEFERRED))
def test_a_handlers_cold_init_leaves_what_it_uses_later_unimported(handler: str) -> None:
    # The same cold init bench/cold_start.py times, in a fresh interpreter.
    snippet = (
        f"import sys; from functions.handlers import {handler}; from functions import wiring; "
        f"wiring.graph().{BUILT[handler]}; "
        "print(__import__('json').dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    ran = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(ran.stdout.splitlines()[-1]))
    assert loaded & set(DEFERRED[handler]) == set()


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
