"""Serve the `schedule` handler over HTTP the way API Gateway's HTTP API (payload v2) would."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl

from functions.local.lambda_context import LocalContext
from functions.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# Called once per answered request: method, path (without the query), status, duration in ms.
RequestLog = Callable[[str, str, int, float], None]

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# The API's description, served without a token (it holds nothing secret) so tools such as
# schemathesis or an SDK generator can read it from the running server. From a checkout only.
SPEC_PATH = "/openapi.yaml"
SPEC_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def http_api_event(
    *, method: str, raw_target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event for one request; the raw path is kept byte for byte."""
    raw_path, _, raw_query = raw_target.partition("?")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    try:
        text: str | None = body.decode()
        encoded = False
    except UnicodeDecodeError:
        text, encoded = None, True
    now_ms = int(time.time() * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /v2/{proxy+}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "ANY /v2/{proxy+}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": encoded,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = base64.b64encode(body).decode() if encoded else text
    return event


def serve(
    handler: Handler,
    *,
    host: str,
    port: int,
    log_request: RequestLog | None = None,
    listen: bool = True,
) -> GatewayServer:
    """A threaded HTTP server that turns each request into an event for `handler`.

    Requests are served concurrently, as API Gateway would fan them out to concurrent Lambda
    execution environments; `handler` must be thread-safe. `log_request` (default: quiet, as
    on Lambda) hears of every answer. Run it with serve_forever(); stop it with shutdown()
    and server_close(), which also ends idle keep-alive connections. With listen=False it
    binds nothing and serves only the connections another process accepted and handed it
    (`serve_connection`).
    """
    return GatewayServer((host, port), handler, log_request, listen=listen)


class GatewayServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections, so server_close() ends them."""

    daemon_threads = True  # a request still running never holds up the process's exit

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        log_request: RequestLog | None,
        *,
        listen: bool = True,
    ) -> None:
        self.handler = handler
        self.log_request = log_request
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closing = False
        # Offered each accepted connection first: True when another process took it over.
        self.hand_off: Callable[[socket.socket], bool] | None = None
        super().__init__(address, _Request, bind_and_activate=listen)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.hand_off is not None and self.hand_off(request):
            request.close()  # this process's descriptor only: no shutdown, the peer stays
            return
        super().process_request(request, client_address)

    def serve_connection(self, connection: socket.socket) -> None:
        """Serve a connection another process accepted, as if accepted here."""
        super().process_request(connection, connection.getpeername())

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        # shutdown() waits for the loop's next poll: 0.1 s rather than socketserver's 0.5 s.
        super().serve_forever(poll_interval)

    def open_connections(self) -> list[socket.socket]:
        """The client connections being served now (keep-alive ones included)."""
        with self._lock:
            return list(self._open)

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.add(connection)
            closing = self._closing
        if closing:
            _stop_reading(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)

    def server_close(self) -> None:
        """Stop listening, and end every open connection once its current answer is out."""
        super().server_close()
        with self._lock:
            self._closing = True
            connections = list(self._open)
        for connection in connections:
            _stop_reading(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer is routine; anything else is logged with its stack.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            logger.exception("gateway connection failed")


def _stop_reading(connection: socket.socket) -> None:
    # SHUT_RD, not SHUT_RDWR: an idle keep-alive read sees end-of-stream and its thread closes
    # the connection, while a request being handled still gets its answer out first.
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RD)


class _Request(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def gateway(self) -> GatewayServer:
        return cast("GatewayServer", self.server)

    def setup(self) -> None:
        super().setup()
        # Each answer goes out in one write (see _respond); without TCP_NODELAY a small write
        # can still wait on Nagle's algorithm for the client's delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.gateway.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.gateway.untrack(self.connection)

    def _invoke(self) -> None:
        started = time.perf_counter()
        body = self._read_body()
        if body is None:
            return
        if self.command in {"GET", "HEAD"} and self.path == SPEC_PATH and SPEC_FILE.is_file():
            self._log(200, started)
            self._respond(200, [("Content-Type", "application/yaml")], SPEC_FILE.read_bytes())
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        event = http_api_event(
            method=self.command,
            raw_target=self.path,
            headers=headers,
            body=body,
            source_ip=self.client_address[0],
        )
        try:
            result = self.gateway.handler(event, LocalContext(function_name="duetime-schedule"))
        except Exception:
            # What API Gateway answers when the function fails, so the client sees a 5xx.
            logger.exception("schedule handler failed")
            result = {
                "statusCode": 500,
                "headers": {"Content-Type": "application/json"},
                "body": '{"error": "internal error"}',
            }
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        status = int(result.get("statusCode", 200))
        self._log(status, started)
        self._respond(status, (result.get("headers") or {}).items(), data)

    # OPTIONS goes to the function too: the API's only route is ANY /v2/{proxy+} and it has no
    # CORS configuration, and without one API Gateway answers no preflight itself but passes
    # OPTIONS to the integration like any other method (the resolver answers 404/405 JSON).
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _invoke  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, BREW...) reaches the function as well, which answers
        # a JSON 405 with Allow on a known path and 404 elsewhere: a refusal, not http.server's
        # 501 "server error". What API Gateway itself answers for them is undocumented.
        if name.startswith("do_"):
            return self._invoke
        raise AttributeError(name)

    def _read_body(self) -> bytes | None:
        """The request body, or None once an error has been answered instead."""
        if self.headers.get("Transfer-Encoding"):
            # http.server cannot de-chunk; ignoring the chunks would misread them as requests.
            self.send_error(411, "send the body with a Content-Length, not chunked")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "invalid Content-Length")
            return None
        if length > MAX_PAYLOAD_BYTES:
            # API Gateway's HTTP API refuses a payload over 10 MB before the function runs.
            self.close_connection = True  # the unread body must not be taken for a request
            self.send_error(413, f"the request body is over {MAX_PAYLOAD_BYTES} bytes")
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # the client left mid-body: nothing to answer
            return None
        return body

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (400, 414, 431, 501...) as JSON, like every other answer."""
        code = int(code)  # http.server passes HTTPStatus members
        error = message or self.responses.get(code, ("error",))[0]
        body = json.dumps({"error": error}).encode()
        self._log(code, None)
        # After a malformed request the stream's framing is unknown: close, as http.server does.
        self._respond(code, [("Content-Type", "application/json"), ("Connection", "close")], body)

    def _respond(self, status: int, headers: Iterable[tuple[str, Any]], body: bytes) -> None:
        """Status line, headers and body in a single write, so no packet waits for another."""
        phrase = self.responses.get(status, ("",))[0]
        lines = [
            f"{self.protocol_version} {status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        for name, value in headers:
            if name.lower() == "content-length":
                continue  # computed below from the bytes actually sent
            lines.append(f"{name}: {value}")
            if name.lower() == "connection" and str(value).lower() == "close":
                self.close_connection = True
        bodiless = status < 200 or status in {204, 304}
        if not bodiless:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if bodiless or self.command == "HEAD" else head + body)

    def _log(self, status: int, started: float | None) -> None:
        # Called before the answer is written, so its line is out by the time the client has it.
        if self.gateway.log_request is None:
            return
        elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        path = getattr(self, "path", "") or "-"
        # Never the query: it may carry ?qstash_token=...
        self.gateway.log_request(self.command or "-", path.partition("?")[0], status, elapsed_ms)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the handlers log structured lines of their own, and log_request the rest."""
