"""The shared receiver: a small asyncio HTTP/1.1 server in its own process.

Every POST is answered 200 at once and recorded as (key, arrival time) where the key is the
"k" of its JSON body. `GET /_records?prefix=P` returns the records whose key starts with P,
`GET /_count?prefix=P` how many distinct keys they carry. A POST whose path starts with
`/fail/N/` is answered 500 the first N times for its key (counted per key) and 200 after; the
500s are kept apart, in `GET /_failures?prefix=P`, so the records stay the 2xx answers. A
hand-rolled parser (not http.server) so the receiver is never the bottleneck: keep-alive,
TCP_NODELAY, no thread per connection, and its own process so it never competes for the
client's GIL.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from urllib.parse import parse_qs, urlsplit

import httpx

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
_FAIL = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
_FAIL_PREFIX = "/fail/"
_MAX_HEAD = 65536


@dataclass
class _Store:
    records: list[tuple[str, float]] = field(default_factory=list)
    unkeyed: int = 0  # POSTs whose body had no "k": never expected, reported as such
    failures: list[tuple[str, float]] = field(default_factory=list)  # the /fail/N/ 500s
    failed_per_key: dict[str, int] = field(default_factory=dict)
    # Per key, every POST's (arrival, Upstash-Message-Id, Upstash-Retried, path, answered 2xx):
    # the evidence for a duplicate or an early delivery, served by GET /_arrivals?key=K.
    arrivals: dict[str, list[tuple[float, str, str, str, bool]]] = field(default_factory=dict)

    def matching(self, prefix: str) -> list[tuple[str, float]]:
        return [r for r in self.records if r[0].startswith(prefix)]

    def failures_matching(self, prefix: str) -> list[tuple[str, float]]:
        return [r for r in self.failures if r[0].startswith(prefix)]


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def _parse_one(buf: bytearray) -> tuple[_Request, int] | None:
    """One complete request from the front of buf and its length, or None if incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEAD:
            raise ValueError("request head too large")
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _parse_chunked(buf, start, method, target, headers)
    length = int(headers.get("content-length", "0"))
    if len(buf) < start + length:
        return None
    return _Request(method, target, headers, bytes(buf[start : start + length])), start + length


def _parse_chunked(
    buf: bytearray, pos: int, method: str, target: str, headers: dict[str, str]
) -> tuple[_Request, int] | None:
    body = bytearray()
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", pos - 2)
            if trailer_end < 0:
                return None
            return _Request(method, target, headers, bytes(body)), trailer_end + 4
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos : pos + size]
        pos += size + 2


class _Protocol(asyncio.Protocol):
    def __init__(self, store: _Store) -> None:
        self.store = store
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        now = time.time()  # arrival = when the bytes completing the request were read
        self.buf += data
        while self.transport is not None:
            try:
                parsed = _parse_one(self.buf)
            except ValueError:
                self.transport.close()
                return
            if parsed is None:
                return
            request, used = parsed
            del self.buf[:used]
            self._answer(request, now)

    def _answer(self, request: _Request, now: float) -> None:
        assert self.transport is not None
        close = request.headers.get("connection", "").lower() == "close"
        if request.method == "GET" and request.target.startswith("/_"):
            body = self._query(request.target)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += b"Content-Length: %d\r\n" % len(body)
        elif self._record(request, now):
            body, head = b"ok", _OK
        else:
            body, head = b"fail", _FAIL
        if close:
            head += b"Connection: close\r\n"
        self.transport.write(head + b"\r\n" + body)
        if close:
            self.transport.close()

    def _record(self, request: _Request, now: float) -> bool:
        """Record one POST; False when it is to be answered 500 (a /fail/N/ path)."""
        try:
            key = str(json.loads(request.body)["k"])
        except (ValueError, KeyError, TypeError):
            self.store.unkeyed += 1
            return True
        ok = True
        failing = _fail_times(request.target)
        if failing:
            seen = self.store.failed_per_key.get(key, 0)
            if seen < failing:
                self.store.failed_per_key[key] = seen + 1
                self.store.failures.append((key, now))
                ok = False
        if ok:
            self.store.records.append((key, now))
        headers = request.headers
        self.store.arrivals.setdefault(key, []).append(
            (
                now,
                headers.get("upstash-message-id", ""),
                headers.get("upstash-retried", ""),
                request.target,
                ok,
            )
        )
        return ok

    def _query(self, target: str) -> bytes:
        parts = urlsplit(target)
        prefix = parse_qs(parts.query).get("prefix", [""])[0]
        matching = self.store.matching(prefix)
        if parts.path == "/_count":  # distinct keys: a duplicate must not stand in for a loss
            distinct = len({key for key, _ in matching})
            return json.dumps({"count": distinct, "unkeyed": self.store.unkeyed}).encode()
        if parts.path == "/_arrivals":
            key = parse_qs(parts.query).get("key", [""])[0]
            return json.dumps({"arrivals": self.store.arrivals.get(key, [])}).encode()
        if parts.path == "/_failures":
            failures = self.store.failures_matching(prefix)
            return json.dumps({"records": failures, "unkeyed": self.store.unkeyed}).encode()
        return json.dumps({"records": matching, "unkeyed": self.store.unkeyed}).encode()


def _fail_times(target: str) -> int:
    """N for a `/fail/N/...` target (answer 500 the first N times per key), else 0."""
    if not target.startswith(_FAIL_PREFIX):
        return 0
    count = target[len(_FAIL_PREFIX) :].partition("/")[0]
    return int(count) if count.isdigit() else 0


def _serve(conn: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Protocol(store), "127.0.0.1", 0, backlog=4096, reuse_address=True
        )
        conn.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    store = _Store()
    asyncio.run(main())


class ReceiverProcess:
    """`with ReceiverProcess() as r:` starts it; r.url(path), r.count(prefix), r.records(prefix)."""

    def __init__(self) -> None:
        self.port = 0
        self._process: BaseProcess | None = None
        self._http = httpx.Client(timeout=30)

    def __enter__(self) -> ReceiverProcess:
        # spawn, not fork: the parent may already run threads (publishers, log drains).
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        if not parent.poll(30):
            raise RuntimeError("receiver did not start within 30 s")
        self.port = int(parent.recv())
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, prefix: str) -> int:
        """Distinct keys received under prefix."""
        response = self._http.get(self.url("/_count"), params={"prefix": prefix})
        return int(response.json()["count"])

    def records(self, prefix: str) -> tuple[list[tuple[str, float]], int]:
        """Records under prefix and the number of POSTs that carried no key at all."""
        data = self._http.get(self.url("/_records"), params={"prefix": prefix}).json()
        return [(str(k), float(t)) for k, t in data["records"]], int(data["unkeyed"])

    def arrivals(self, key: str) -> list[dict[str, object]]:
        """Every POST that carried key: arrival (unix s), message id, retried, path, 2xx."""
        data = self._http.get(self.url("/_arrivals"), params={"key": key}).json()
        names = ("at", "messageId", "retried", "path", "ok")
        return [dict(zip(names, row, strict=True)) for row in data["arrivals"]]

    def failures(self, prefix: str) -> list[tuple[str, float]]:
        """The 500s answered on /fail/N/ paths under prefix (key, arrival time)."""
        data = self._http.get(self.url("/_failures"), params={"prefix": prefix}).json()
        return [(str(k), float(t)) for k, t in data["records"]]
