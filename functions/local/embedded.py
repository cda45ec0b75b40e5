"""`duetime dev` on the embedded engine: the same services and HTTP API as on AWS, over SQLite
and an in-process timer heap. No moto, no AWS client on the request or delivery path."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer

import httpx

from functions import wiring
from functions.adapters.sqlite import (
    Database,
    LocalTimers,
    StaticKeys,
    open_database,
    sqlite_adapters,
)
from functions.adapters.sqlite.messages import SqliteMessageStore
from functions.config import Settings
from functions.domain.messages import MessageState
from functions.domain.signing import SigningKeys
from functions.domain.timers import MESSAGE, TimerPayload
from functions.local.banner import banner
from functions.local.defaults import DEV_PORT, DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.gateway import serve
from functions.local.pump import Periodic

# Far enough ahead to include every armed wake-up when resuming a database.
_EVERYTHING = datetime(9999, 1, 1, tzinfo=UTC)
_ALL = 10**9


@dataclass
class EmbeddedServer:
    host: str = "127.0.0.1"
    port: int = DEV_PORT
    token: str = DEV_TOKEN
    keys: SigningKeys = DEV_SIGNING_KEYS
    db_path: str | None = None
    workers: int = 32
    recover_every_seconds: float = 60.0
    graph: wiring.Graph | None = field(default=None, init=False)
    _db: Database | None = field(default=None, init=False)
    _timers: LocalTimers | None = field(default=None, init=False)
    _http: ThreadingHTTPServer | None = field(default=None, init=False)
    _sweeper: Periodic | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("start() the dev server first")
        return f"http://{self.host}:{self._http.server_address[1]}"

    def start(self) -> None:
        """Open the database, resume what it holds, then serve. Raises DatabaseOpenError or
        OSError (port in use) before anything runs."""
        self._db = open_database(self.db_path)
        self._timers = LocalTimers(workers=self.workers)
        adapters = sqlite_adapters(
            self._db, timers=self._timers, keys=StaticKeys(self.keys, (self.token,))
        )
        client = httpx.Client(
            limits=httpx.Limits(
                max_connections=self.workers * 2, max_keepalive_connections=self.workers
            )
        )
        self.graph = wiring.build(Settings(dev_mode=True), adapters, http=client)
        wiring.install(self.graph)
        # Imported after the graph is installed: the handler module builds its router once.
        from functions.handlers import schedule  # noqa: PLC0415

        try:
            self._http = serve(schedule.handler, host=self.host, port=self.port)
        except OSError:
            self._db.close()
            raise
        self._timers.start(self.graph.wake)
        self._resume()
        self._sweeper = Periodic(
            action=self._sweep, interval_seconds=self.recover_every_seconds, name="recover"
        )
        self._sweeper.start()
        threading.Thread(target=self._http.serve_forever, name="http", daemon=True).start()

    def _resume(self) -> None:
        """Arm every wake-up the database holds: what fell due while the server was down
        goes at once. An attempt cut off mid-send waits out its lease, then goes again under
        the same message id."""
        graph = self._started()
        now = graph.clock()
        for timer in graph.adapters.overdue.overdue(before=_EVERYTHING, limit=_ALL):
            graph.arm(self._after_lease(timer), now)

    def _after_lease(self, timer: TimerPayload) -> TimerPayload:
        if timer.kind != MESSAGE:
            return timer
        message = self._started().message_store.find(timer.target_id)
        if message is None or message.state is not MessageState.ACTIVE or not message.lease_until:
            return timer
        return TimerPayload(timer.target_id, message.lease_until + timedelta(milliseconds=1))

    def _sweep(self) -> None:
        """What the `recover` schedule and DynamoDB's TTL do on AWS."""
        graph = self._started()
        graph.recovery.run()
        store = graph.message_store
        if isinstance(store, SqliteMessageStore):
            store.purge_expired(now=graph.clock())

    def _started(self) -> wiring.Graph:
        if self.graph is None:
            raise RuntimeError("start() the dev server first")
        return self.graph

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        if self._sweeper:
            self._sweeper.stop()
        if self._timers:
            self._timers.stop()
        if self.graph:
            self.graph.http.close()
        if self._db:
            self._db.close()
        wiring.install(None)

    def banner(self) -> str:
        where = (
            f"state in {self._db.label}"
            if self._db and self.db_path
            else "state in memory, lost on exit (--db PATH keeps it)"
        )
        return banner(
            engine=f"embedded engine, {where}", url=self.url, token=self.token, keys=self.keys
        )
