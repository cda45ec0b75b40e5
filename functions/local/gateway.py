"""Serve the `schedule` handler over HTTP the way API Gateway's HTTP API (payload v2) would."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from functions.local.lambda_context import LocalContext
from functions.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


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


def serve(handler: Handler, *, host: str, port: int) -> ThreadingHTTPServer:
    """A threaded HTTP server that turns each request into an event for `handler`.

    Requests are read and answered on many threads, but the handler runs one invocation at a
    time, as in one Lambda execution environment: Powertools' resolver keeps the current
    event and route arguments on the shared app, which concurrent calls would mix up.
    """
    invocation = threading.Lock()

    class _Request(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _invoke(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
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
                with invocation:
                    result = handler(event, LocalContext(function_name="duetime-schedule"))
            except Exception:
                # What API Gateway answers when the function fails, so the client sees a 5xx.
                logger.exception("schedule handler failed")
                result = {"statusCode": 500, "body": '{"error": "internal error"}'}
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self.send_response(int(result.get("statusCode", 200)))
            for name, value in (result.get("headers") or {}).items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _invoke  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the handlers log structured lines of their own."""

    server = ThreadingHTTPServer((host, port), _Request)
    server.daemon_threads = True
    return server
