"""Worker processes for `duetime dev`, so one Python process's GIL does not cap it at a core.

The server process holds the one timer heap and runs the recover sweep. It and each worker
process serve the API from the same listening socket (the kernel hands each new connection
to whichever accepts it first), and each worker process delivers. Every process builds the
same graph on the same SQLite file (the workers open it as guests,
functions/adapters/sqlite/db.py). A wake-up that falls due goes down a pipe to the worker
with the fewest jobs in flight, which hands it to `Graph.wake`: the same claim, lease,
signatures, attempt and record as in one process. Whatever a worker arms (a publish's timer,
a retry, a callback, a schedule, a flow's next step, a queue's next member) comes back up its
pipe to the server's heap, so one heap still holds every wake-up and nothing polls.

Same guarantees as in one process: a claim is a conditional write, so a job handed out twice
is delivered once; a process that dies mid-attempt leaves a lease that runs out, and the
recover sweep arms the message again under the same id. Every graph reads kill switches on
each use (no 5 s cache as on Lambda), so a switch set through any process holds at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from multiprocessing.process import BaseProcess

    from functions.config import Settings
    from functions.domain.signing import SigningKeys
    from functions.domain.timers import TimerPayload

# What comes back from a worker process: ("arm", payload), ("disarm", id, due),
# ("failed", payload) when its target raised (the server arms it again after the lease), and
# ("done",) once per job.
_SHM = Path("/dev/shm")  # noqa: S108 - memory, for a server whose state is not kept
_SCRATCH_PREFIX = "duetime-scratch-"
_STARTING_SECONDS = 60
# A container's /dev/shm is often 64 MB: too small to hold what memory would. Below this, the
# scratch file goes to the temporary folder instead (and the banner says where).
_SHM_NEEDED = 1 << 30
_GONE = 1 << 62  # the in-flight count of a process that has ended


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to build its graph (picklable: it crosses a spawn)."""

    db_path: str
    keys: SigningKeys
    tokens: tuple[str, ...]
    settings: Settings  # the server's own, so every graph is built alike
    threads: int
    log_level: str
    kill_switch_changes: SharedCounter  # inherited at the spawn: it is shared memory


@dataclass(frozen=True)
class Scratch:
    """A file for a server without --db whose deliveries run in other processes (SQLite's
    in-memory databases cannot be shared between processes), removed when the server stops.
    In /dev/shm where there is one, so the state still lives in memory."""

    path: str
    in_memory: bool
    remove: Callable[[], None]


def scratch_database() -> Scratch:
    in_memory = _SHM.is_dir() and os.access(_SHM, os.W_OK) and _free_bytes(_SHM) >= _SHM_NEEDED
    where = _SHM if in_memory else Path(tempfile.gettempdir())
    _remove_abandoned(where)
    folder = tempfile.mkdtemp(prefix=_SCRATCH_PREFIX, dir=where)
    return Scratch(
        path=str(Path(folder) / "state.db"),
        in_memory=in_memory,
        remove=lambda: shutil.rmtree(folder, ignore_errors=True),
    )


def _free_bytes(where: Path) -> int:
    stats = os.statvfs(where)
    return stats.f_bavail * stats.f_frsize


def _remove_abandoned(where: Path) -> None:
    """Scratch files of servers that were killed outright (SIGKILL) and so never removed
    theirs: a server holds its file's flock while it runs, so one that can be taken is dead."""
    for folder in where.glob(f"{_SCRATCH_PREFIX}*"):
        lock = folder / "state.db.lock"
        with contextlib.suppress(OSError):
            if time.time() - folder.stat().st_mtime < _STARTING_SECONDS:
                continue  # made a moment ago, perhaps by a server yet to lock it
        try:
            with lock.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # in use (or not ours to judge): left alone
        shutil.rmtree(folder, ignore_errors=True)


class WriteLock:
    """The lock every process on one file takes around its writes: an flock on a file beside
    it, each process through its own descriptor (a thread lock already orders the threads of
    one process). Waiters wake as soon as it is released. An flock rather than a
    multiprocessing semaphore: a semaphore outlives a process killed outright, and its
    bookkeeping in the resource tracker warns on the terminal at exit."""

    def __init__(self, db_path: str) -> None:
        self._file = Path(db_path + ".writer").open("a")  # noqa: SIM115 - held for the lock

    def __enter__(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        self._file.close()


class SharedCounter:
    """The kill switches' change counter (`ports.ChangeCounter`) for a server and its worker
    processes: one word of shared memory, made by the server and inherited by each worker at
    its spawn. A read is a memory read, where asking SQLite on every publish cost a fifth of
    the publish rate.

    An increment is not atomic across processes, and need not be: every writer commits its
    change before it bumps, so two bumps that collide still move the counter past what any
    reader cached before either change, and a reader that then re-reads finds both."""

    def __init__(self, context: Any) -> None:
        self._value = context.RawValue("Q", 0)  # no lock, hence no semaphore to track

    def read(self) -> int:
        value: int = self._value.value
        return value

    def bump(self) -> None:
        self._value.value += 1


class ForwardedTimers:
    """A worker process's timer port: every arm and disarm goes to the server's heap."""

    def __init__(self, report: Callable[..., None]) -> None:
        self._report = report

    def arm(self, payload: TimerPayload, *, now: datetime) -> None:
        self._report("arm", payload)

    def disarm(self, target_id: str, due_at: datetime) -> None:
        self._report("disarm", target_id, due_at)


@dataclass
class _Link:
    process: BaseProcess
    pipe: Connection  # the server's end: jobs out, reports in
    handles: Connection  # the server's end: accepted connections out
    in_flight: int = 0


class WorkerProcesses:
    """`processes` worker processes of `spec.threads` delivery threads each, fed by `submit`.

    Each has a pipe of its own; a job goes to the process with the fewest in flight, so a
    process whose workers all wait on a slow destination is passed over."""

    def __init__(self, spec: WorkerSpec, *, processes: int) -> None:
        # spawn, not fork: the server already runs threads (HTTP, timers) when these start.
        context = multiprocessing.get_context("spawn")
        self._spec = spec
        self._context = context
        self._processes = processes
        self._links: list[_Link] = []
        self._lock = threading.Lock()  # one sender per pipe at a time, and the in-flight counts
        self._turns = itertools.count()
        self._reader: threading.Thread | None = None

    @property
    def kill_switch_changes(self) -> SharedCounter:
        return self._spec.kill_switch_changes

    def start(
        self,
        *,
        arm: Callable[[TimerPayload], None],
        disarm: Callable[[str, datetime], None],
        failed: Callable[[TimerPayload], None],
    ) -> None:
        for n in range(self._processes):
            server_end, child_end = self._context.Pipe()
            handles_out, handles_in = self._context.Pipe()
            process = self._context.Process(
                target=_serve,
                args=(self._spec, child_end, handles_in),
                name=f"duetime-worker-{n}",
                daemon=True,
            )
            process.start()
            child_end.close()  # the child holds them now: its exit ends the server's reads
            handles_in.close()
            self._links.append(_Link(process, server_end, handles_out))
        self._arm, self._disarm, self._failed = arm, disarm, failed
        self._reader = threading.Thread(target=self._read_reports, name="deliveries", daemon=True)
        self._reader.start()

    def submit(self, payload: TimerPayload) -> None:
        """The timer heap's target: hand a due wake-up to the least busy process."""
        with self._lock:
            link = min(self._links, key=lambda candidate: candidate.in_flight)
            link.in_flight += 1
            link.pipe.send(payload)

    def hand_off(self, connection: socket.socket) -> bool:
        """The server's gateway offers each connection it accepts: one in N + 1 stays with
        the server, the others go to the workers in turn (False: serve it here). Called
        from the gateway's one accepting thread only."""
        turn = next(self._turns) % (len(self._links) + 1)
        if turn == len(self._links):
            return False
        link = self._links[turn]
        try:
            reduction.send_handle(link.handles, connection.fileno(), link.process.pid or 0)
        except OSError:
            return False  # that worker is gone: this process serves it
        return True

    def pids(self) -> list[int]:
        return [link.process.pid for link in self._links if link.process.pid is not None]

    def stop(self, timeout: float = 1.0) -> None:
        # Jobs a process has not started are dropped: their timers are in storage, and the
        # next start arms them again. An attempt in flight gets until the deadline to finish.
        with self._lock:
            for link in self._links:
                with contextlib.suppress(OSError):
                    link.pipe.send(None)
        deadline = time.monotonic() + timeout  # one deadline for all, not one each
        for link in self._links:
            link.process.join(max(0.0, deadline - time.monotonic()))
        for link in self._links:
            if link.process.is_alive():
                # An attempt still on the wire is cut off: its lease runs out, and the message
                # goes again under the same id when the file is next opened.
                link.process.terminate()
        for link in self._links:
            link.process.join(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        for link in self._links:
            link.pipe.close()
            link.handles.close()

    def _read_reports(self) -> None:
        open_links = {link.pipe: link for link in self._links}
        while open_links:
            for ready in wait(list(open_links)):
                assert isinstance(ready, Connection)  # noqa: S101 - only pipes are waited on
                try:
                    kind, *rest = ready.recv()
                except (EOFError, OSError):
                    with self._lock:  # that process has ended: never chosen again
                        open_links.pop(ready).in_flight = _GONE
                    continue
                if kind == "done":
                    with self._lock:
                        open_links[ready].in_flight -= 1
                    continue
                try:
                    if kind == "arm":
                        self._arm(rest[0])
                    elif kind == "disarm":
                        self._disarm(rest[0], rest[1])
                    else:
                        self._failed(rest[0])
                except Exception:
                    # This thread must go on reading, or every process stalls on its pipe;
                    # a wake-up lost here is armed again by the recover sweep.
                    logger.exception("a worker process's report could not be acted on")


def _serve(spec: WorkerSpec, pipe: Connection, handles: Connection) -> None:
    """A worker process: build the graph on the server's file, serve the connections the
    server hands it, and deliver what it is sent."""
    from functions.local.allocator import limit_malloc_arenas  # noqa: PLC0415 - in the child

    limit_malloc_arenas()
    # Ctrl-C reaches the whole process group: the server alone decides how everything stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    sending = threading.Lock()

    def report(*what: object) -> None:
        with sending, contextlib.suppress(OSError):  # a server gone: nobody to tell
            pipe.send(what)

    graph, db = _guest_graph(spec, report)
    api = _serve_api(graph, handles)
    work: queue.SimpleQueue[TimerPayload | None] = queue.SimpleQueue()

    def worker() -> None:
        while (payload := work.get()) is not None:
            try:
                graph.wake(payload)
            except Exception:
                logger.exception("timer target failed; armed again after the lease")
                report("failed", payload)
            finally:
                report("done")

    workers = [
        threading.Thread(target=worker, name=f"delivery_{n}", daemon=True)
        for n in range(spec.threads)
    ]
    for thread in workers:
        thread.start()
    with contextlib.suppress(EOFError, OSError):
        while (job := pipe.recv()) is not None:
            work.put(job)
    with contextlib.suppress(queue.Empty):  # stopping: what has not started is dropped
        while True:
            work.get_nowait()
    for _ in workers:
        work.put(None)
    api.server_close()  # ends the connections it serves once their answers are out
    for thread in workers:
        thread.join(1.0)
    graph.http.close()
    db.close()


def _guest_graph(spec: WorkerSpec, report: Callable[..., None]) -> tuple[Any, Any]:
    """The same graph as the server's, on its file, with its timers forwarded by `report`."""
    from functions import wiring  # noqa: PLC0415 - in the child
    from functions.adapters.sqlite import sqlite_adapters  # noqa: PLC0415
    from functions.adapters.sqlite.db import open_guest  # noqa: PLC0415
    from functions.local import console  # noqa: PLC0415
    from functions.services.plain_http import plain_http_first  # noqa: PLC0415
    from functions.services.transport import LazyTransport  # noqa: PLC0415

    console.install()
    logger.setLevel(spec.log_level)
    db = open_guest(spec.db_path, process_lock=WriteLock(spec.db_path))  # closes it with itself
    adapters = sqlite_adapters(
        db, timers=ForwardedTimers(report), keys=spec.keys, tokens=spec.tokens
    )
    client = LazyTransport(make=plain_http_first)
    graph = wiring.build(
        spec.settings, adapters, http=client, kill_switch_changes=spec.kill_switch_changes
    )
    # Before the first job: a burst's first deliveries should not wait on imports.
    graph.warm()
    client.warm()
    return graph, db


def _serve_api(graph: Any, handles: Connection) -> Any:
    """Serve the API, on connections the server accepted and hands over, one thread each."""
    from functions import wiring  # noqa: PLC0415
    from functions.local import console  # noqa: PLC0415
    from functions.local.gateway import serve  # noqa: PLC0415

    wiring.install(graph)
    from functions.handlers import schedule  # noqa: PLC0415 - builds its resolver on the graph

    api = serve(
        schedule.handler, host="127.0.0.1", port=0, log_request=console.log_request, listen=False
    )

    def take() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                descriptor = reduction.recv_handle(handles)
                api.serve_connection(socket.socket(fileno=descriptor))

    threading.Thread(target=take, name="connections", daemon=True).start()
    return api


def _exit_with_parent() -> None:
    """A server killed outright (SIGKILL) cannot stop its worker processes: they notice
    their parent is gone and leave too, instead of waiting on its queue for ever."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        with contextlib.suppress(Exception):
            parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
