"""The transport deliveries go through, and what a cold start defers: the graph's transport
loads httpx at the first send, the signer PyJWT and standardwebhooks at the first signature,
cron parsing croniter at the first cron, and `dispatch` asyncio (with Powertools' batch
utility) at its first SQS batch."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading

import httpx
import pytest

from bench.cold_start import ENV
from functions.services.transport import LazyTransport
from tests.helpers.receiver import Receiver, Reply

# What each function's cold init must not load: it is loaded at first use (an HTTP send, a
# signature, a cron parsed, an SQS batch), which many invocations of that function never reach.
DEFERRED = {
    "schedule": ("httpx", "jwt", "standardwebhooks", "croniter"),
    "dispatch": ("jwt", "standardwebhooks", "croniter", "asyncio"),
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


class _Counting(httpx.BaseTransport):
    """An httpx transport that records how many requests it carried at the same time."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._inner = httpx.HTTPTransport(verify=tls)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak = 0
        self.carried = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            self.carried += 1
        try:
            return self._inner.handle_request(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        self._inner.close()


def test_requests_in_flight_together_never_share_a_transport() -> None:
    """httpcore's pool can close a connection under a request when two threads use it at
    once (encode/httpcore#1110): each request in flight has a transport to itself, and the
    transports are reused once their responses are closed."""
    made: list[_Counting] = []

    def make(tls: ssl.SSLContext) -> _Counting:
        made.append(_Counting(tls))
        return made[-1]

    transport = LazyTransport(make)
    together = threading.Barrier(12)
    answers: list[int] = []

    def deliver() -> None:
        together.wait(timeout=5)
        response = transport.handle_request(httpx.Request("POST", receiver.url("/x"), content=b"x"))
        response.read()
        response.close()
        answers.append(response.status_code)

    with Receiver(lambda _, __: Reply(delay_seconds=0.3)) as receiver:
        for _round in range(2):
            threads = [threading.Thread(target=deliver) for _ in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)
        assert len(receiver.requests) == 24
    transport.close()
    assert answers == [200] * 24
    assert [t.peak for t in made] == [1] * len(made)
    assert len(made) <= 12  # the second round reused the first round's transports
    assert sum(t.carried for t in made) == 24
