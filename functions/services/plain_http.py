"""Plain-HTTP deliveries over the standard library's http.client; https through httpx.

httpx's own transport parses HTTP with h11, in pure Python. Against a loopback receiver it
costs about 270 µs of CPU per request, and http.client about 105 µs (docs/benchmarks.md, "One
delivery's HTTP"). A dev server's deliveries are nearly all plain http to loopback, and
there that difference is a fifth of what a delivery costs. So this transport carries
http:// requests itself, and hands everything else (TLS, SNI, a pinned address) to the
httpx transport it wraps, unchanged. It is an httpx transport, so the sender builds the same
requests and reads the same responses and errors whichever one carries them.

One connection per origin, kept alive. Like LazyTransport's transports, an instance serves
one request at a time.
"""

from __future__ import annotations

import http.client
import socket
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterator

_CHUNK = 65536
_DEFAULT_TIMEOUT = 30.0
_IDLE_LIMIT = 16  # kept-alive connections per transport, one per origin
_LINE_LIMIT = 65537  # http.client's own


def plain_http_first(tls: ssl.SSLContext) -> httpx.BaseTransport:
    """LazyTransport's `make` for the dev server: this transport around httpx's own."""
    return PlainHttpTransport(httpx.HTTPTransport(verify=tls))


class PlainHttpTransport(httpx.BaseTransport):
    def __init__(self, fallback: httpx.BaseTransport) -> None:
        self._fallback = fallback
        self._idle: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            return self._fallback.handle_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        # The name as written (raw_host), not httpx's IDNA-decoded one: re-encoding that can
        # fail, or name another host than the Host header does.
        origin = (url.raw_host.decode("ascii"), url.port or 80)
        connection = self._reusable(origin) or _connect(origin, timeouts.get("connect"))
        sock = connection.sock
        assert sock is not None  # noqa: S101 - connected just above or kept from before
        try:
            sock.settimeout(timeouts.get("write", _DEFAULT_TIMEOUT))
            _write(connection, request)
            sock.settimeout(timeouts.get("read", _DEFAULT_TIMEOUT))
            answer = connection.getresponse()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except (ValueError, UnicodeError) as exc:  # a header http.client refuses to write
            connection.close()
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        except http.client.HTTPException as exc:  # no answer, or not HTTP
            connection.close()
            raise httpx.RemoteProtocolError(
                f"{type(exc).__name__}: {exc}", request=request
            ) from exc
        except OSError as exc:
            connection.close()
            raise httpx.ReadError(str(exc), request=request) from exc
        return httpx.Response(
            answer.status,
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.getheaders()],
            stream=_Body(
                answer,
                lambda complete: self._give_back(origin, connection, answer, complete),
                request,
            ),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode()},
        )

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connection in idle.values():
            connection.close()
        self._fallback.close()

    def _reusable(self, origin: tuple[str, int]) -> http.client.HTTPConnection | None:
        """The idle connection to `origin`, unless its peer has closed it meanwhile: a socket
        that is readable while no request is out holds only an end of stream (or junk).
        Checked before sending, so a request is never written to a closed connection and
        never needs a retry that could deliver it twice."""
        connection = self._idle.pop(origin, None)
        if connection is None or connection.sock is None:
            return None
        # Anything to read, or the end of the stream, and the connection is done with. The
        # socket is made non-blocking for the look: with a timeout, Python would wait first.
        connection.sock.settimeout(0)
        try:
            connection.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return connection  # nothing pending: still open
        except OSError:
            pass
        connection.close()
        return None

    def _give_back(
        self,
        origin: tuple[str, int],
        connection: http.client.HTTPConnection,
        answer: http.client.HTTPResponse,
        complete: bool,
    ) -> None:
        # Only a connection whose answer was read to its end can carry the next request.
        if complete and answer.isclosed() and not answer.will_close and origin not in self._idle:
            self._idle[origin] = connection
            while len(self._idle) > _IDLE_LIMIT:  # many origins: the oldest idle one goes
                self._idle.pop(next(iter(self._idle))).close()
            return
        answer.close()
        connection.close()


class _FinalResponse(http.client.HTTPResponse):
    """http.client passes over `100 Continue` only; like httpx, pass over every interim 1xx
    answer (102 Processing, 103 Early Hints) to the final one, which the attempt is about."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            # begin() reads each status line through _read_status (stable since Python 3.0,
            # absent from typeshed): the one place to see an interim answer before begin()
            # takes it for the final one.
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if status >= 200 or status == 101:
                return version, status, reason
            while self.fp.readline(_LINE_LIMIT) not in {b"\r\n", b"\n", b""}:
                pass  # the interim answer's headers


def _connect(origin: tuple[str, int], timeout: float | None) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(*origin, timeout=timeout or _DEFAULT_TIMEOUT)
    connection.response_class = _FinalResponse
    try:
        connection.connect()
    except TimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
    except (OSError, UnicodeError, ValueError) as exc:
        raise httpx.ConnectError(str(exc)) from exc
    assert connection.sock is not None  # noqa: S101 - connect() sets it
    # The request goes out in one write below; never wait on Nagle for the receiver's ACK.
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _write(connection: http.client.HTTPConnection, request: httpx.Request) -> None:
    """The request as httpx built it: its Host, Content-Length and every other header."""
    target = request.url.raw_path.decode("ascii")
    connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in request.headers.raw:
        connection.putheader(name, value)
    connection.endheaders(request.content or None)


class _Body(httpx.SyncByteStream):
    def __init__(
        self,
        answer: http.client.HTTPResponse,
        release: Callable[[bool], None],
        request: httpx.Request,
    ) -> None:
        self._answer = answer
        self._release: Callable[[bool], None] | None = release
        self._request = request
        self._complete = False  # read to its end without an error: the connection can stay

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._answer.read(_CHUNK):
                yield chunk
            self._complete = True
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=self._request) from exc
        except (http.client.HTTPException, OSError) as exc:
            raise httpx.ReadError(str(exc), request=self._request) from exc

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:  # once: a second close must not close a kept connection
            release(self._complete)
