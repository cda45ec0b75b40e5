"""A real HTTP receiver on 127.0.0.1 that records every request duetime makes to it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: httpx.Headers  # case-insensitive, as HTTP headers are
    body: bytes
    at: float  # time.time() when the request arrived


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay_seconds: float = 0.0


Responder = Callable[[Received, int], Reply]


def always_ok(_: Received, __: int) -> Reply:
    return Reply()


class Receiver:
    """Start with `with Receiver() as r:`; `r.url(path)` addresses it; `r.requests` records."""

    def __init__(self, responder: Responder = always_ok) -> None:
        self.responder = responder
        self.requests: list[Received] = []
        self._lock = threading.Condition()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # With the single write below, no answer waits on Nagle + delayed ACK (~40 ms).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(
                    method=self.command,
                    path=self.path,
                    # http.server decodes header bytes as latin-1; hand httpx the bytes back.
                    headers=httpx.Headers(
                        [
                            (k.encode("latin-1"), v.encode("latin-1"))
                            for k, v in self.headers.items()
                        ]
                    ),
                    body=body,
                    at=time.time(),
                )
                with receiver._lock:
                    receiver.requests.append(received)
                    index = len(receiver.requests) - 1
                    receiver._lock.notify_all()
                reply = receiver.responder(received, index)
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(self._response(reply))  # unless the caller gave up (timeout)

            def _response(self, reply: Reply) -> bytes:
                """Status line, headers and body as one buffer, sent in one write."""
                lines = [
                    f"{self.protocol_version} {reply.status} "
                    f"{self.responses.get(reply.status, ('',))[0]}",
                    f"Server: {self.version_string()}",
                    f"Date: {self.date_time_string()}",
                ]
                for name, value in reply.headers.items():
                    lines.append(f"{name}: {value}")
                    if name.lower() == "connection" and value.lower() == "close":
                        self.close_connection = True
                lines.append(f"Content-Length: {len(reply.body)}")
                return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` requests arrived (or timeout); returns what arrived."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
