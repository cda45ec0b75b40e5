"""What deliveries are sent through: an httpx transport, made on first use.

The API (schedule) handler builds the same graph as dispatch and step but never sends a
request itself. Importing httpx and building its connection pool there would only add to
its cold start, so the graph holds a LazyTransport and httpx loads at the first send."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx


class Transport(Protocol):
    """The part of httpx.BaseTransport the sender uses (any httpx transport is one)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response: ...

    def close(self) -> None: ...


class LazyTransport:
    """An httpx.HTTPTransport, built at the first request; closing an unused one is free."""

    def __init__(self) -> None:
        self._made: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport().handle_request(request)

    def close(self) -> None:
        with self._lock:
            if self._made is not None:
                self._made.close()
                self._made = None

    def _transport(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._made is None:
                import httpx  # noqa: PLC0415 - deferred on purpose (module docstring)

                self._made = httpx.HTTPTransport()
            return self._made
