"""The dev server's gateway: the HTTP API (v2) event it builds, and how it serves HTTP."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.local.gateway import (
    SPEC_FILE,
    GatewayServer,
    Handler,
    RequestLog,
    http_api_event,
    serve,
)


def event(raw_target: str, body: bytes = b"", method: str = "POST") -> dict[str, Any]:
    return http_api_event(
        method=method,
        raw_target=raw_target,
        headers={"host": "127.0.0.1:8080", "content-type": "text/plain"},
        body=body,
        source_ip="127.0.0.1",
    )


def test_raw_path_keeps_double_slashes_and_the_raw_query() -> None:
    e = event("/v2/publish/https://example.com//a//b?x=1&y=a%20b")
    assert e["rawPath"] == "/v2/publish/https://example.com//a//b"
    assert e["requestContext"]["http"]["path"] == "/v2/publish/https://example.com//a//b"
    assert e["rawQueryString"] == "x=1&y=a%20b"
    assert e["queryStringParameters"] == {"x": "1", "y": "a b"}


def test_repeated_query_keys_are_joined_by_commas() -> None:
    e = event("/v2/publish/https://example.com?a=1&a=2&b=3&a=")
    assert e["queryStringParameters"] == {"a": "1,2,", "b": "3"}
    assert e["rawQueryString"] == "a=1&a=2&b=3&a="


def test_no_query_means_no_query_parameters() -> None:
    e = event("/v2/messages/msg_1", method="GET")
    assert e["rawQueryString"] == ""
    assert "queryStringParameters" not in e
    assert e["requestContext"]["http"]["method"] == "GET"


def test_utf8_body_is_passed_as_text() -> None:
    e = event("/v2/publish/https://example.com", body="héllo".encode())
    assert e["body"] == "héllo"
    assert e["isBase64Encoded"] is False


def test_non_utf8_body_is_base64_encoded() -> None:
    body = b"\xff\xfe\x00\x80binary"
    e = event("/v2/publish/https://example.com", body=body)
    assert e["isBase64Encoded"] is True
    assert base64.b64decode(e["body"]) == body


def test_empty_body_is_absent() -> None:
    e = event("/v2/publish/https://example.com")
    assert "body" not in e
    assert e["isBase64Encoded"] is False


def test_request_context_describes_the_request() -> None:
    e = event("/v2/publish/https://example.com", method="PUT")
    context = e["requestContext"]
    assert e["version"] == "2.0"
    assert e["headers"]["content-type"] == "text/plain"
    assert context["http"]["method"] == "PUT"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["domainName"] == "127.0.0.1:8080"


@given(body=st.binary(max_size=512))
def test_any_body_survives_the_event_encoding(body: bytes) -> None:
    # Whatever the bytes, the handler can recover them exactly as API Gateway would send them.
    e = event("/v2/publish/https://example.com", body=body)
    raw = e.get("body") or ""
    recovered = base64.b64decode(raw) if e["isBase64Encoded"] else raw.encode()
    assert recovered == body


# --- the server itself, on 127.0.0.1 with a plain thread-safe fake handler ---


def answer(status: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body or {}),
    }


def echo(event: dict[str, Any], _: Any) -> dict[str, Any]:
    return answer(200, {"method": event["requestContext"]["http"]["method"]})


@contextmanager
def running(handler: Handler, log: RequestLog | None = None) -> Iterator[GatewayServer]:
    server = serve(handler, host="127.0.0.1", port=0, log_request=log)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def url(server: GatewayServer, path: str = "/v2/x") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def raw(server: GatewayServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the answer up to the server's close."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_requests_are_handled_concurrently() -> None:
    # Each invocation waits until a second one is in progress too: served one at a time, the
    # barrier would break and both would answer 500.
    barrier = threading.Barrier(2, timeout=10)
    lock = threading.Lock()
    active = peak = 0

    def slow(event: dict[str, Any], _: Any) -> dict[str, Any]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            barrier.wait()
            return answer(200)
        finally:
            with lock:
                active -= 1

    with running(slow) as server, ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda _: httpx.get(url(server), timeout=20).status_code, [1, 2]))
    assert statuses == [200, 200]
    assert peak >= 2


def test_keep_alive_reuses_one_connection_with_tcp_nodelay() -> None:
    seen: list[str] = []

    def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event["rawPath"])
        return echo(event, context)

    with running(record) as server, httpx.Client(timeout=10) as client:
        connections = []
        for i in range(50):
            response = client.get(url(server, f"/v2/n/{i}"))
            assert response.json() == {"method": "GET"}
            connections += server.open_connections()
        assert len(seen) == 50
        # The same single server-side socket answered all 50, with Nagle switched off.
        assert len(connections) == 50
        assert all(c is connections[0] for c in connections)
        assert connections[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_head_answers_headers_only_and_keeps_the_connection_usable() -> None:
    with running(echo) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        connection.request("HEAD", "/v2/x")
        head = connection.getresponse()
        assert head.read() == b""
        assert int(head.headers["Content-Length"]) == len(b'{"method": "HEAD"}')
        connection.request("GET", "/v2/x")
        assert json.loads(connection.getresponse().read()) == {"method": "GET"}
        connection.close()


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "BREW", "CONNECT"])
def test_any_other_method_goes_to_the_handler_too(method: str) -> None:
    with running(echo) as server:
        code, _, body = raw(
            server, f"{method} /v2/pot HTTP/1.1\r\nConnection: close\r\n\r\n".encode()
        )
    assert code == 200
    assert json.loads(body) == {"method": method}


def test_options_goes_to_the_handler_like_any_method() -> None:
    def no_route(event: dict[str, Any], _: Any) -> dict[str, Any]:
        method = event["requestContext"]["http"]["method"]
        return answer(405, {"error": f"method {method} is not allowed on {event['rawPath']}"})

    with running(no_route) as server:
        response = httpx.options(url(server, "/v2/messages/m1"), timeout=10)
    assert response.status_code == 405
    assert response.json() == {"error": "method OPTIONS is not allowed on /v2/messages/m1"}


def test_a_failing_handler_answers_500_json() -> None:
    def broken(_: dict[str, Any], __: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    with running(broken) as server:
        response = httpx.get(url(server), timeout=10)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "internal error"}


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        (b"GET /v2/x HTTP/9.9\r\nHost: x\r\n\r\n", 505, "Invalid HTTP version (9.9)"),
        (b"GET /v2/x HTTP/x\r\n\r\n", 400, "Bad request version ('HTTP/x')"),
        (b"GET /v2/x HTTP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n", 431, "Too many headers"),
        (b"GET /v2/x HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431, "Line too long"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "Request-URI Too Long"),
        (b"POST /v2/x HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "invalid Content-Length"),
        (
            b"POST /v2/x HTTP/1.1\r\nContent-Length: 10485761\r\n\r\n",
            413,
            "the request body is over 10485760 bytes",
        ),
        (
            b"POST /v2/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            411,
            "send the body with a Content-Length, not chunked",
        ),
    ],
)
def test_protocol_errors_are_json(request_bytes: bytes, status: int, error: str) -> None:
    with running(echo) as server:
        code, headers, body = raw(server, request_bytes)
    assert code == status
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"error": error}


def test_log_request_hears_every_answer_without_the_query() -> None:
    lines: list[tuple[str, str, int, float]] = []

    def log(method: str, path: str, status: int, duration_ms: float) -> None:
        lines.append((method, path, status, duration_ms))

    with running(echo, log) as server:
        httpx.post(url(server, "/v2/publish/x?qstash_token=secret"), content=b"hi", timeout=10)
        raw(server, b"GET /v2/x HTTP/9.9\r\n\r\n")
    assert [line[:3] for line in lines] == [
        ("POST", "/v2/publish/x", 200),
        ("-", "-", 505),
    ]
    assert all(line[3] >= 0 for line in lines)


def test_close_ends_idle_keep_alive_connections() -> None:
    server = serve(echo, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.request("GET", "/v2/x")
    assert connection.getresponse().read() == b'{"method": "GET"}'
    assert connection.sock is not None  # kept alive, idle

    server.shutdown()
    server.server_close()
    thread.join(10)

    assert not thread.is_alive()
    assert connection.sock.recv(1) == b""  # the server closed it (a hang would time out)
    connection.close()


def test_close_lets_the_request_in_progress_finish() -> None:
    entered, release = threading.Event(), threading.Event()

    def held(event: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        release.wait(10)
        return echo(event, context)

    server = serve(held, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.request("GET", "/v2/x")
    assert entered.wait(10)

    server.shutdown()
    server.server_close()
    release.set()

    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b'{"method": "GET"}')
    assert connection.sock is not None
    assert connection.sock.recv(1) == b""
    connection.close()


def test_the_api_description_is_served_without_a_token() -> None:
    with running(echo) as server:
        response = httpx.get(url(server, "/openapi.yaml"), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.content == SPEC_FILE.read_bytes()
    assert b"openapi: 3.1.0" in response.content
