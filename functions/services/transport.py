"""What deliveries are sent through: httpx transports, made on first use, one per request
in flight.

The API (schedule) handler builds the same graph as dispatch and step but never sends a
request itself. Importing httpx and building its connection pool there would only add to
its cold start, so the graph holds a LazyTransport and httpx loads at the first send.

Deliveries run side by side (16 workers in the dev server, a batch of ten on Lambda), and
httpcore's sync connection pool is not safe for that: when two threads pass through it at
once it can close a connection it has just handed to a waiting request
(encode/httpcore#1110, open in httpcore 1.0.9). The request has been sent, and its answer
is lost (EBADF, or a reset once the descriptor is reused): a delivered message would be
retried and delivered twice. So each request checks out a transport no other request is
using and gives it back when its response is closed. Keep-alive still works, per transport,
and all of them share one TLS context (building one loads the CA bundle).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    import httpx


class Transport(Protocol):
    """The part of httpx.BaseTransport the sender uses (any httpx transport is one)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response: ...

    def close(self) -> None: ...


class LazyTransport:
    """httpx transports, one per request in flight, built when a request finds none free
    and reused after (the module docstring says why). Closing an unused one is free, and a
    closed one builds fresh transports on the next send."""

    def __init__(self, make: Callable[[ssl.SSLContext], httpx.BaseTransport] | None = None) -> None:
        """`make` builds one transport around the shared TLS context (httpx.HTTPTransport's
        by default)."""
        self._make = make
        self._free: list[httpx.BaseTransport] = []
        self._generation = 0  # close() starts a new one: older transports close on return
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import httpx  # noqa: PLC0415 - deferred on purpose (module docstring)

        from functions.services.given_back import GivenBackOnClose  # noqa: PLC0415

        transport, generation = self._check_out()
        try:
            response = transport.handle_request(request)
        except BaseException:
            self._give_back(transport, generation)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)  # noqa: S101 - sync transports
        stream = GivenBackOnClose(response.stream, lambda: self._give_back(transport, generation))
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    def warm(self) -> None:
        """Import httpx and build the TLS context now, as a long-lived server may: a Lambda
        function leaves both to its first send."""
        from functions.services import given_back  # noqa: F401, PLC0415

        with self._lock:
            self._tls_context()

    def close(self) -> None:
        with self._lock:
            idle, self._free = self._free, []
            self._generation += 1
        for transport in idle:
            transport.close()

    def _check_out(self) -> tuple[httpx.BaseTransport, int]:
        import httpx  # noqa: PLC0415

        with self._lock:
            if self._free:
                # The most recently given back: its connections are the warmest.
                return self._free.pop(), self._generation
            make = self._make or (lambda tls: httpx.HTTPTransport(verify=tls))
            return make(self._tls_context()), self._generation

    def _tls_context(self) -> ssl.SSLContext:
        """The one TLS context every transport shares, made once (call with the lock held)."""
        import httpx  # noqa: PLC0415

        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return self._tls

    def _give_back(self, transport: httpx.BaseTransport, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._free.append(transport)
                return
        transport.close()
