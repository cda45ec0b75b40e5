"""The dev server's plain-HTTP transport, against a real receiver on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from functions.services.plain_http import _IDLE_LIMIT, PlainHttpTransport
from functions.services.sender import send
from tests.helpers.receiver import Received, Receiver, Reply


def _transport(fallback: httpx.BaseTransport | None = None) -> PlainHttpTransport:
    return PlainHttpTransport(fallback or httpx.HTTPTransport())


def _post(transport: httpx.BaseTransport, url: str, *, timeout: float = 5.0) -> httpx.Response:
    request = httpx.Request(
        "POST",
        url,
        headers={"Content-Type": "application/json", "Upstash-Message-Id": "msg_1"},
        content=b'{"k": 1}',
        extensions={"timeout": httpx.Timeout(timeout).as_dict()},
    )
    response = transport.handle_request(request)
    response.read()
    response.close()
    return response


def test_a_request_arrives_as_httpx_built_it_and_the_answer_comes_back() -> None:
    with Receiver(lambda _, __: Reply(status=202, headers={"X-Seen": "yes"}, body=b"taken")) as r:
        response = _post(_transport(), r.url("/hook?a=1&b=%2F"))
        (received,) = r.wait_for(1)
    assert (response.status_code, response.headers["x-seen"], response.content) == (
        202,
        "yes",
        b"taken",
    )
    assert received.method == "POST"
    assert received.path == "/hook?a=1&b=%2F"
    assert received.body == b'{"k": 1}'
    assert received.headers["content-length"] == "8"
    assert received.headers["upstash-message-id"] == "msg_1"
    assert received.headers["host"] == r.url("").removeprefix("http://")


def test_the_connection_is_kept_alive_between_requests() -> None:
    transport = _transport()
    with Receiver() as r:
        _post(transport, r.url())
        (first,) = transport._idle.values()
        sock = first.sock
        _post(transport, r.url())
        (second,) = transport._idle.values()
        assert len(r.wait_for(2)) == 2
    assert second.sock is sock


def test_a_connection_the_receiver_closed_is_not_written_to_again() -> None:
    # The receiver answers the first request and closes; the next must open a new one.
    def close_first(_: Received, index: int) -> Reply:
        return Reply(headers={"Connection": "close"}) if index == 0 else Reply()

    transport = _transport()
    with Receiver(close_first) as r:
        statuses = [_post(transport, r.url()).status_code for _ in range(3)]
        assert len(r.wait_for(3)) == 3
    assert statuses == [200, 200, 200]


def test_an_idle_connection_closed_by_the_peer_is_dropped_before_sending() -> None:
    transport = _transport()
    with Receiver() as r:
        _post(transport, r.url())
        (idle,) = transport._idle.values()
        assert idle.sock is not None
        # The peer's side goes away while the connection sits idle: like a peer's FIN, this
        # leaves the socket readable with nothing to read
        idle.sock.shutdown(socket.SHUT_RD)
        assert _post(transport, r.url()).status_code == 200
        assert len(r.wait_for(2)) == 2


def test_a_slow_receiver_is_a_read_timeout_and_a_closed_port_a_connect_error() -> None:
    with Receiver(lambda _, __: Reply(delay_seconds=1.0)) as r, pytest.raises(httpx.ReadTimeout):
        _post(_transport(), r.url(), timeout=0.2)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        _post(_transport(), f"http://127.0.0.1:{port}/")


def test_what_the_sender_makes_of_its_answers_and_failures() -> None:
    with Receiver(lambda _, __: Reply(status=500, body=b"x" * 10_000)) as r:
        result = send(
            _transport(),
            method="POST",
            url=r.url(),
            headers={"Content-Type": "text/plain"},
            body=b"hi",
            timeout_seconds=5,
        )
    assert (result.status, result.error, len(result.body)) == (500, "HTTP 500", 4096)
    with Receiver(lambda _, __: Reply(delay_seconds=1.0)) as r:
        slow = send(
            _transport(), method="POST", url=r.url(), headers={}, body=b"", timeout_seconds=0.2
        )
    assert slow.status is None
    assert slow.error == "timed out after 0.2s"


def test_https_goes_to_the_wrapped_transport() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    response = _post(_transport(httpx.MockTransport(answer)), "https://receiver.test/hook")
    assert response.status_code == 204
    assert seen == ["https://receiver.test/hook"]


class _RawServer:
    """Answers each request on one connection with the next of `answers`, byte for byte."""

    def __init__(self, answers: list[bytes]) -> None:
        self._answers = answers
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            for answer in self._answers:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        (
                            line.split(b":", 1)[1]
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        b"0",
                    )
                )
                while len(rest) < length:
                    rest += connection.recv(65536)
                self.requests += 1
                connection.sendall(answer)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self._listener.close()


def test_interim_1xx_answers_are_passed_over_to_the_final_one() -> None:
    # Given a receiver that sends 102 and 103 before its 200, then a 201 to the next request
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    interim = b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    server = _RawServer([interim + final, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"])
    transport = _transport()
    try:
        # Then each request reads its own final answer, on the same connection
        first = _post(transport, server.url())
        second = _post(transport, server.url())
    finally:
        server.close()
    assert (first.status_code, first.content) == (200, b"ok")
    assert second.status_code == 201


def test_a_connection_whose_answer_was_not_read_to_its_end_is_not_kept() -> None:
    with Receiver(lambda _, __: Reply(body=b"x" * 100_000)) as r:
        transport = _transport()
        request = httpx.Request(
            "POST", r.url(), content=b"", extensions={"timeout": httpx.Timeout(5).as_dict()}
        )
        response = transport.handle_request(request)
        next(response.iter_raw())  # the head of it only, as the sender reads
        response.close()
        assert transport._idle == {}
        assert _post(transport, r.url()).status_code == 200


def test_no_more_than_its_limit_of_idle_connections_is_kept() -> None:
    receivers = [Receiver() for _ in range(_IDLE_LIMIT + 3)]
    transport = _transport()
    for receiver in receivers:
        with receiver:
            _post(transport, receiver.url())
    assert len(transport._idle) == _IDLE_LIMIT
