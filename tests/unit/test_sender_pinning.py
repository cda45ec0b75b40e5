"""The delivery connects to the address the SSRF guard checked, not to a second resolution.

No DNS: socket.getaddrinfo is replaced by a stub resolver, and httpx.MockTransport records
the request that would have gone on the wire."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from functions.services import sender
from functions.services.sender import DestinationUnresolvedError, attempt, check_destination

AddrInfo = list[tuple[Any, ...]]


def _info(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


def _answers(monkeypatch: pytest.MonkeyPatch, *answers: str | OSError) -> list[str]:
    """Resolve every name to the next answer in turn; the names asked for are returned."""
    asked: list[str] = []
    pending: Iterator[str | OSError] = iter(answers)

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> AddrInfo:
        asked.append(host)
        answer = next(pending)
        if isinstance(answer, OSError):
            raise answer
        return [_info(answer, port)]

    monkeypatch.setattr(sender.socket, "getaddrinfo", getaddrinfo)
    return asked


def _recording() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok")

    return httpx.MockTransport(handler), seen


def _attempt(
    transport: httpx.BaseTransport, url: str, *, allow_private: bool = False
) -> sender.Attempt:
    return attempt(
        transport,
        method="POST",
        url=url,
        headers={"content-type": "text/plain"},
        body=b"hi",
        timeout_seconds=5,
        allow_private=allow_private,
        allowed_hosts=(),
    )


def test_a_rebinding_name_is_delivered_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a name that resolves to a public address first and to loopback after that
    asked = _answers(monkeypatch, "93.184.216.34", "127.0.0.1")
    transport, seen = _recording()
    # When a delivery is attempted
    sent = _attempt(transport, "http://rebind.example:8080/hook?x=1")
    # Then it went to the checked public address, with the name in the Host header
    assert sent.result.ok
    assert not sent.refused
    assert asked == ["rebind.example"]
    (request,) = seen
    assert str(request.url) == "http://93.184.216.34:8080/hook?x=1"
    assert request.headers["host"] == "rebind.example:8080"
    assert "sni_hostname" not in request.extensions


def test_https_keeps_the_name_for_sni_and_the_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, "2606:4700::1", "::1")
    transport, seen = _recording()
    assert _attempt(transport, "https://bücher.example/p").result.ok
    (request,) = seen
    assert str(request.url) == "https://[2606:4700::1]/p"
    assert request.headers["host"] == "xn--bcher-kva.example"
    assert request.extensions["sni_hostname"] == "xn--bcher-kva.example"
    # A pooled TLS connection to the address is never reused for another name
    assert request.headers["connection"] == "close"


def test_an_ip_literal_is_sent_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, "93.184.216.34")
    transport, seen = _recording()
    assert _attempt(transport, "https://93.184.216.34/x").result.ok
    (request,) = seen
    assert str(request.url) == "https://93.184.216.34/x"
    assert "sni_hostname" not in request.extensions
    assert "connection" not in request.headers


def test_dev_mode_resolves_nothing_and_sends_to_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _answers(monkeypatch)
    transport, seen = _recording()
    assert _attempt(transport, "http://receiver.internal:9000/", allow_private=True).result.ok
    assert asked == []
    assert str(seen[0].url) == "http://receiver.internal:9000/"


def test_check_destination_returns_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, "93.184.216.34")
    assert str(check_destination("http://a.example/", allow_private=False)) == "93.184.216.34"


@pytest.mark.parametrize(
    "failure",
    [
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        socket.gaierror(socket.EAI_FAIL, "Non-recoverable failure in name resolution"),
        TimeoutError("timed out"),
    ],
)
def test_a_name_that_does_not_resolve_is_retried_not_refused(
    monkeypatch: pytest.MonkeyPatch, failure: OSError
) -> None:
    # Given a resolver that fails
    _answers(monkeypatch, failure)
    transport, seen = _recording()
    # When a delivery is attempted
    sent = _attempt(transport, "http://flaky.example/")
    # Then nothing was sent, and the attempt is an ordinary (retryable) failure
    assert seen == []
    assert not sent.refused
    assert sent.result.sendable
    assert sent.result.error is not None
    assert "'flaky.example' does not resolve" in sent.result.error


def test_check_destination_raises_unresolved(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, socket.gaierror(socket.EAI_AGAIN, "Temporary failure"))
    with pytest.raises(DestinationUnresolvedError):
        check_destination("http://flaky.example/", allow_private=False)


def test_a_name_the_resolver_cannot_encode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: object, **kwargs: object) -> AddrInfo:
        raise UnicodeError("label too long")

    monkeypatch.setattr(sender.socket, "getaddrinfo", getaddrinfo)
    transport, seen = _recording()
    sent = _attempt(transport, "http://" + "a" * 64 + ".example/")
    assert sent.refused
    assert seen == []
    assert sent.result.error is not None
    assert "is not a valid name" in sent.result.error


def test_a_url_httpx_cannot_parse_fails_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an octal IPv4 form the OS resolves to a public address, which httpx will not parse
    resolve: Callable[..., AddrInfo] = lambda host, port, *a, **k: [_info("93.184.216.34", port)]  # noqa: E731
    monkeypatch.setattr(sender.socket, "getaddrinfo", resolve)
    transport, seen = _recording()
    sent = _attempt(transport, "http://0135.0270.0330.042/")
    # Then the attempt fails at once (no retry can send it) rather than raise
    assert seen == []
    assert sent.refused
    assert not sent.result.sendable
