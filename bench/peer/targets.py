"""The two peers behind one interface: start a fresh server, publish one message, stop.

Both get the same destination, the same JSON body and the same whole-second due time
(duetime's Upstash-Not-Before is whole unix seconds; Quirrel's runAt is given that second).
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from bench.peer import host, servers


class PublishError(RuntimeError):
    pass


def _version(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.strip()


class Http:
    """One keep-alive HTTP/1.1 connection per publishing worker.

    http.client, not httpx: on the 2-CPU box this was built on, 8 httpx threads managed ~700
    requests/s against the bare receiver and http.client ~2,400/s, and the client shares the
    CPUs with the server under test. TCP_NODELAY so no write ever waits for a delayed ACK.
    """

    def __init__(self, base_url: str, authorization: str) -> None:
        parts = urlsplit(base_url)
        self.headers = {"Authorization": authorization, "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        if self.conn.sock is None:
            self.conn.connect()
            assert self.conn.sock is not None
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.conn.request("POST", path, body=body, headers={**self.headers, **headers})
            response = self.conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except Exception:
            self.conn.close()  # the next request reconnects
            raise

    def close(self) -> None:
        self.conn.close()


class Peer(Protocol):
    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def client(self, worker: int) -> Http: ...
    def publish(self, conn: Http, destination: str, body: bytes, due: int) -> None: ...
    def describe(self) -> dict[str, str]: ...
    def tail(self) -> str: ...
    def pids(self) -> list[int]: ...


class DuetimePeer:
    name = "duetime"

    def __init__(self, extra_args: list[str], quiet: bool = True) -> None:
        self.extra_args = extra_args
        self._add_quiet = quiet and "--quiet" not in extra_args  # decided at the first start
        self.server: servers.Duetime | None = None

    def start(self) -> None:
        if self._add_quiet:
            # A line per request and delivery otherwise (Quirrel runs at LOG_LEVEL=warn too);
            # asked for only when this version of the dev server has the flag.
            self._add_quiet = False
            if "--quiet" in servers.duetime_dev_flags():
                self.extra_args = [*self.extra_args, "--quiet"]
        self.server = servers.start_duetime(self.extra_args)

    def stop(self) -> None:
        if self.server is not None:
            servers.stop(self.server.process)
            self.server = None

    def client(self, worker: int) -> Http:
        assert self.server is not None
        return Http(self.server.url, f"Bearer {self.server.token}")

    def publish(self, conn: Http, destination: str, body: bytes, due: int) -> None:
        headers = {"Upstash-Not-Before": str(due)}
        status, text = conn.post(f"/v2/publish/{destination}", body, headers)
        if not 200 <= status < 300:
            raise PublishError(f"{status} {text[:200]}")

    def describe(self) -> dict[str, str]:
        rev = _version("git", "-C", str(servers.REPO), "describe", "--always", "--dirty")
        return {"server": "duetime dev", "git": rev, "args": " ".join(self.extra_args)}

    def tail(self) -> str:
        return self.server.tail() if self.server is not None else ""

    def pids(self) -> list[int]:
        """The server and its worker processes (its children)."""
        if self.server is None:
            return []
        pid = self.server.process.pid
        return [pid, *host.children(pid)]


class QuirrelPeer:
    name = "quirrel"

    def __init__(self, workers: int, log_level: str) -> None:
        self.workers = workers
        self.log_level = log_level
        self.workdir: Path | None = None
        self.redis: servers.Redis | None = None
        self.server: servers.Quirrel | None = None
        self.tokens: list[str] = []

    def start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="duetime-bench-quirrel-"))
        try:
            self.redis = servers.start_redis(self.workdir)
            self.server = servers.start_quirrel(self.redis, self.workdir, self.log_level)
            # A token per worker: Quirrel rate-limits 10,000 requests a minute per
            # Authorization header, which one token would hit across workloads.
            self.tokens = [self.server.token(f"bench-{n}") for n in range(self.workers)]
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.server is not None:
            servers.stop(self.server.process)
            self.server = None
        if self.redis is not None:
            servers.stop(self.redis.process)
            self.redis = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def client(self, worker: int) -> Http:
        assert self.server is not None
        return Http(self.server.url, f"Bearer {self.tokens[worker % len(self.tokens)]}")

    def publish(self, conn: Http, destination: str, body: bytes, due: int) -> None:
        run_at = datetime.fromtimestamp(due, tz=UTC).isoformat(timespec="milliseconds")
        job = {"body": body.decode(), "runAt": run_at.replace("+00:00", "Z")}
        status, text = conn.post(
            f"/queues/{quote(destination, safe='')}", json.dumps(job).encode(), {}
        )
        if status != 201:
            raise PublishError(f"{status} {text[:200]}")

    def describe(self) -> dict[str, str]:
        package = servers.QUIRREL_DIR / "node_modules" / "quirrel" / "package.json"
        version = json.loads(package.read_text())["version"] if package.exists() else "?"
        return {
            "server": f"quirrel {version}",
            "redis": _version("redis-server", "--version"),
            "node": _version("node", "--version"),
        }

    def pids(self) -> list[int]:
        return [p.process.pid for p in (self.server, self.redis) if p is not None]

    def tail(self) -> str:
        if self.server is None:
            return ""
        return "\n".join(self.server.log.read_text(errors="replace").splitlines()[-40:])
