"""`duetime dev` on the embedded engine: the same services and HTTP API as on AWS, over SQLite
and an in-process timer heap. No moto, no AWS client on the request or delivery path."""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from functions import wiring
from functions.adapters.sqlite import (
    Database,
    LocalTimers,
    open_database,
    sqlite_adapters,
)
from functions.adapters.sqlite.db import DatabaseOpenError
from functions.adapters.sqlite.messages import SqliteMessageStore
from functions.config import Settings
from functions.domain.clock import utc_now
from functions.local import console
from functions.local.banner import banner
from functions.local.defaults import DEV_PORT, DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.gateway import serve
from functions.local.pump import Periodic
from functions.local.timetravel import ManualClock, TimeTravel
from functions.local.worker_processes import (
    Scratch,
    SharedCounter,
    WorkerProcesses,
    WorkerSpec,
    WriteLock,
    scratch_database,
)
from functions.services.plain_http import plain_http_first
from functions.services.transport import LazyTransport

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from functions.domain.signing import SigningKeys

# Far enough ahead to include every armed wake-up when resuming a database.
_EVERYTHING = datetime(9999, 1, 1, tzinfo=UTC)
_ALL = 10**9
CLOCK_MODES = ("real", "manual")


@dataclass
class _Engine:
    db: Database
    timers: LocalTimers
    graph: wiring.Graph
    http: ThreadingHTTPServer
    sweeper: Periodic
    # What DynamoDB does by itself on AWS (TTL), and what only the file's sole owner may do
    # (end the leases a dead process left).
    upkeep: SqliteMessageStore
    worker_processes: WorkerProcesses | None = None
    scratch: Scratch | None = None  # the file of a server without --db that has worker processes


@dataclass
class EmbeddedServer:
    host: str = "127.0.0.1"
    port: int = DEV_PORT
    token: str = DEV_TOKEN
    keys: SigningKeys = DEV_SIGNING_KEYS
    db_path: str | None = None
    workers: int = 16
    # More processes that serve the API and deliver (each with `workers` delivery threads);
    # 0: everything in this one. functions/local/worker_processes.py.
    processes: int = 0
    log_level: str = "INFO"  # what a worker process logs at (the server's own is set apart)
    allowed_hosts: tuple[str, ...] = ()  # empty: any host the SSRF guard lets through
    recover_every_seconds: float = 60.0
    # "manual": the clock stands still until moved through /v2/dev/clock (time travel).
    clock_mode: str = "real"
    clock_start: datetime | None = None  # a manual clock's first reading (default: now)
    _engine: _Engine | None = field(default=None, init=False)

    @property
    def engine(self) -> _Engine:
        if self._engine is None:
            raise RuntimeError("start() the dev server first")
        return self._engine

    @property
    def graph(self) -> wiring.Graph:
        return self.engine.graph

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.engine.http.server_address[1]}"

    def start(self) -> None:
        """Open the database, resume what it holds, then serve. Raises DatabaseOpenError, or
        OSError when the port is taken, before anything runs."""
        if self.clock_mode not in CLOCK_MODES:
            raise ValueError(f"clock_mode must be one of {', '.join(CLOCK_MODES)}")
        manual = ManualClock(self.clock_start) if self.clock_mode == "manual" else None
        if manual is not None and self.processes:
            raise ValueError("a manual clock moves only in its own process: no worker processes")
        clock = manual or utc_now
        settings = Settings(dev_mode=True, allowed_hosts=self.allowed_hosts)
        worker_processes, db, scratch = self._open(settings)
        # Deliveries elsewhere: the heap's own workers only pass due wake-ups on.
        timers = LocalTimers(workers=2 if worker_processes else self.workers, clock=clock)
        adapters = sqlite_adapters(db, timers=timers, keys=self.keys, tokens=(self.token,))
        # A transport per request in flight (its docstring); plain http without h11's cost.
        client = LazyTransport(make=plain_http_first)
        graph = wiring.build(
            settings,
            adapters,
            http=client,
            clock=clock,
            wall_clock=utc_now if manual else None,
            # One server in several processes: a switch set through any holds in all at once.
            kill_switch_changes=worker_processes.kill_switch_changes if worker_processes else None,
        )
        if manual is not None:
            graph.time_travel = TimeTravel(clock=manual, timers=timers)
        # A server pays at start what a Lambda function defers to first use (the transport
        # only where deliveries leave from this process).
        graph.warm()
        if worker_processes is None:
            client.warm()
        wiring.install(graph)
        # Imported once the graph is installed: the handler module builds its resolver once.
        from functions.handlers import schedule  # noqa: PLC0415

        try:
            http = serve(
                schedule.handler, host=self.host, port=self.port, log_request=console.log_request
            )
        except OSError:
            db.close()
            if scratch is not None:
                scratch.remove()
            wiring.install(None)
            raise
        self._engine = _Engine(
            db=db,
            timers=timers,
            graph=graph,
            http=http,
            sweeper=Periodic(
                action=self._sweep, interval_seconds=self.recover_every_seconds, name="recover"
            ),
            upkeep=SqliteMessageStore(db),
            worker_processes=worker_processes,
            scratch=scratch,
        )
        if worker_processes is None:
            timers.start(graph.wake)
        else:
            worker_processes.start(
                arm=lambda payload: timers.arm(payload, now=clock()),
                disarm=timers.disarm,
                failed=timers.retry_after_failure,
            )
            # The server accepts every connection and serves one in N + 1 itself: spread by
            # the kernel instead, a few keep-alive clients could all land on one process.
            http.hand_off = worker_processes.hand_off
            timers.start(worker_processes.submit)
        self._resume()
        self._engine.sweeper.start()
        threading.Thread(target=http.serve_forever, name="http", daemon=True).start()

    def _open(self, settings: Settings) -> tuple[WorkerProcesses | None, Database, Scratch | None]:
        """The database, and the worker processes that will share it (if any)."""
        if not self.processes:
            return None, open_database(self.db_path), None
        scratch = None if self.db_path else scratch_database()
        path = self.db_path or (scratch.path if scratch else "")
        spec = WorkerSpec(
            db_path=path,
            keys=self.keys,
            tokens=(self.token,),
            settings=settings,
            threads=self.workers,
            log_level=self.log_level,
            kill_switch_changes=SharedCounter(multiprocessing.get_context("spawn")),
        )
        worker_processes = WorkerProcesses(spec, processes=self.processes)
        try:
            db = open_database(path, process_lock=_write_lock(path))
        except Exception:
            if scratch is not None:
                scratch.remove()
            raise
        return worker_processes, db, scratch

    def _resume(self) -> None:
        """Arm every wake-up the database holds: what fell due while the server was down goes
        at once, and an attempt a crash cut off mid-send goes again, under the same id."""
        engine = self.engine
        now = engine.graph.clock()
        engine.upkeep.expire_leases(now=now)
        for timer in engine.graph.adapters.overdue.overdue(before=_EVERYTHING, limit=_ALL):
            engine.graph.arm(timer, now)

    def _sweep(self) -> None:
        """What the `recover` schedule and DynamoDB's TTL do on AWS."""
        engine = self.engine
        engine.graph.recovery.run()
        engine.upkeep.purge_expired(now=engine.graph.clock())

    def stop(self) -> None:
        engine, self._engine = self._engine, None
        if engine is None:
            return
        engine.http.shutdown()
        engine.http.server_close()
        engine.sweeper.stop()
        engine.timers.stop()
        if engine.worker_processes is not None:
            engine.worker_processes.stop()
        engine.graph.http.close()
        engine.db.close()
        if engine.scratch is not None:
            engine.scratch.remove()
        wiring.install(None)

    def banner(self) -> str:
        scratch = self.engine.scratch
        if self.db_path:
            where = f"state in {self.engine.db.label}"
        elif scratch is not None and not scratch.in_memory:
            where = f"state in {scratch.path}, removed on exit (--db PATH keeps it)"
        else:
            where = "state in memory, lost on exit (--db PATH keeps it)"
        if self.processes:
            where += f"; {self.processes} worker processes"
        if self.clock_mode == "manual":
            where += "; manual clock at " + self.graph.clock().isoformat()
            where += " (POST /v2/dev/clock moves it)"
        # The stored keys: a --db file that saw a rotation signs with what it rotated to.
        keys = self.graph.adapters.keys.signing_keys()
        return banner(engine=f"embedded engine, {where}", url=self.url, token=self.token, keys=keys)


def _write_lock(path: str) -> WriteLock:
    try:
        return WriteLock(path)
    except OSError as exc:
        # A folder that is missing or not writable: open_database says so in its own words.
        open_database(path).close()
        raise DatabaseOpenError(f"--db {path}: cannot create {path}.writer ({exc})") from exc
