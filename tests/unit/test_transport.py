"""The transport deliveries go through, and what a cold start defers: the graph's transport
loads httpx at the first send, the signer PyJWT and standardwebhooks at the first signature,
cron parsing croniter at the first cron, and `dispatch` asyncio (with Powertools' batch
utility) at its first SQS batch, the flow and schedule code at the first step or fire, and the
SQS and Scheduler clients at the first timer armed."""

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
# signature, a cron parsed, an SQS batch, a flow step, a schedule firing), which many
# invocations of that function never reach. Packages, or modules by their full name.
DEFERRED = {
    "schedule": ("httpx", "jwt", "standardwebhooks", "croniter"),
    "dispatch": (
        "jwt",
        "standardwebhooks",
        "croniter",
        "asyncio",
        "functions.services.flows",
        "functions.services.schedules",
        "functions.services.messages",
        "functions.domain.flows",
        "functions.adapters.aws.flows",
        "functions.adapters.aws.schedules",
        "functions.adapters.aws.topics",
    ),
}
BUILT = {"schedule": "message_service", "dispatch": "dispatcher"}
# The AWS clients each cold init makes (the API function's Lambda client, and DynamoDB's, which
# pynamodb makes, come with the first request): SQS and the Scheduler wait for a timer that
# needs them, and neither function's happy path does.
CLIENTS = {"schedule": ["secretsmanager"], "dispatch": ["secretsmanager"]}


def _cold_init(handler: str) -> tuple[set[str], list[str]]:
    """The same cold init bench/cold_start.py times, in a fresh interpreter: the modules it
    loaded and the clients it made."""
    snippet = (
        "import sys, json, botocore.session; made = []; "
        "create = botocore.session.Session.create_client; "
        "botocore.session.Session.create_client = "
        "lambda self, name, *a, **k: made.append(name) or create(self, name, *a, **k); "
        f"from functions.handlers import {handler}; from functions import wiring; "
        f"wiring.graph().{BUILT[handler]}; "
        "print(json.dumps({'modules': sorted(sys.modules), 'clients': made}))"
    )
    ran = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    found = json.loads(ran.stdout.splitlines()[-1])
    return set(found["modules"]), found["clients"]


@pytest.mark.parametrize("handler", sorted(DEFERRED))
def test_a_handlers_cold_init_leaves_what_it_uses_later_unimported(handler: str) -> None:
    modules, _ = _cold_init(handler)
    loaded = {
        m for m in modules for name in DEFERRED[handler] if m == name or m.startswith(f"{name}.")
    }
    assert loaded == set()


@pytest.mark.parametrize("handler", sorted(CLIENTS))
def test_a_handlers_cold_init_makes_only_the_clients_its_first_request_needs(
    handler: str,
) -> None:
    _, clients = _cold_init(handler)
    assert clients == CLIENTS[handler]


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
