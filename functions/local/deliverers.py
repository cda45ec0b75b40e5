"""Deliveries in processes of their own, so `duetime dev` is not held to one core by the GIL.

The server process keeps the HTTP API, the timer heap and the recover sweep. A timer that
falls due goes onto a job queue that every delivery process reads from. Each of them builds
the same graph on the same SQLite file (opened as a guest, functions/adapters/sqlite/db.py)
and hands the job to `Graph.wake`, as the server's own workers would: the same claim, lease,
signatures, attempt and record. What an attempt arms (a retry, a callback, a flow's next
step, a queue's next member) comes back over the arms queue to the server's heap, so one
heap still holds every wake-up and nothing polls.

Same guarantees as in one process: a claim is a conditional write, so a job handed out twice
is delivered once; a process that dies mid-attempt leaves a lease that runs out, and the
recover sweep arms the message again under the same id.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from functions.domain.signing import SigningKeys
from functions.domain.timers import TimerPayload

# What comes back from a delivery process: ("arm", payload), ("disarm", id, due) or
# ("failed", payload): its target raised, so the server arms it again after the lease.
Report = tuple[Any, ...]
_SHM = Path("/dev/shm")  # noqa: S108 - memory, for a server whose state is not kept


@dataclass(frozen=True)
class DeliverySpec:
    """What a delivery process needs to build its graph (picklable: it crosses a spawn)."""

    db_path: str
    keys: SigningKeys
    tokens: tuple[str, ...]
    allowed_hosts: tuple[str, ...]
    threads: int
    log_level: str


@dataclass(frozen=True)
class Scratch:
    """A file for a server without --db whose deliveries run in other processes (SQLite's
    in-memory databases cannot be shared between processes), removed when the server stops.
    In /dev/shm where there is one, so the state still lives in memory."""

    path: str
    in_memory: bool
    remove: Callable[[], None]


def scratch_database() -> Scratch:
    in_memory = _SHM.is_dir() and os.access(_SHM, os.W_OK)
    folder = tempfile.mkdtemp(prefix="duetime-", dir=_SHM if in_memory else None)
    return Scratch(
        path=str(Path(folder) / "state.db"),
        in_memory=in_memory,
        remove=lambda: shutil.rmtree(folder, ignore_errors=True),
    )


class ForwardedTimers:
    """A delivery process's timer port: every arm and disarm goes to the server's heap."""

    def __init__(self, reports: Queue[Report | None]) -> None:
        self._reports = reports

    def arm(self, payload: TimerPayload, *, now: datetime) -> None:
        self._reports.put(("arm", payload))

    def disarm(self, target_id: str, due_at: datetime) -> None:
        self._reports.put(("disarm", target_id, due_at))


class DeliveryProcesses:
    """`processes` delivery processes of `spec.threads` workers each, fed by `submit`."""

    def __init__(self, spec: DeliverySpec, *, processes: int) -> None:
        # spawn, not fork: the server already runs threads (HTTP, timers) when these start.
        self._context = multiprocessing.get_context("spawn")
        self._spec = spec
        self._lock = self._context.Lock()
        self._stopping = self._context.Event()  # set: take no further job, whatever is queued
        self._jobs: Queue[TimerPayload | None] = self._context.Queue()
        self._reports: Queue[Report | None] = self._context.Queue()
        self._processes: list[BaseProcess] = [
            self._context.Process(
                target=_serve,
                args=(spec, self._jobs, self._reports, self._lock, self._stopping),
                name=f"duetime-delivery-{n}",
                daemon=True,
            )
            for n in range(processes)
        ]
        self._reader: threading.Thread | None = None

    @property
    def process_lock(self) -> Any:
        """The lock the server's own Database takes around its writes too."""
        return self._lock

    def start(
        self,
        *,
        arm: Callable[[TimerPayload], None],
        disarm: Callable[[str, datetime], None],
        failed: Callable[[TimerPayload], None],
    ) -> None:
        for process in self._processes:
            process.start()
        self._reader = threading.Thread(
            target=self._read_reports, args=(arm, disarm, failed), name="deliveries", daemon=True
        )
        self._reader.start()

    def submit(self, payload: TimerPayload) -> None:
        """The timer heap's target: hand a due wake-up to whichever process is free first."""
        self._jobs.put(payload)

    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def stop(self, timeout: float = 1.0) -> None:
        # Jobs not yet taken are dropped with the queue: their timers are in storage, and the
        # next start arms them again. An attempt in flight finishes and is recorded.
        self._stopping.set()
        for _ in range(len(self._processes) * self._spec.threads):
            self._jobs.put(None)  # wakes every worker waiting on an empty queue
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.terminate()
                process.join(timeout)
        self._reports.put(None)
        if self._reader is not None:
            self._reader.join(timeout)
        self._jobs.cancel_join_thread()
        self._reports.cancel_join_thread()

    def _read_reports(
        self,
        arm: Callable[[TimerPayload], None],
        disarm: Callable[[str, datetime], None],
        failed: Callable[[TimerPayload], None],
    ) -> None:
        while (report := self._reports.get()) is not None:
            kind, *rest = report
            if kind == "arm":
                arm(rest[0])
            elif kind == "disarm":
                disarm(rest[0], rest[1])
            else:
                failed(rest[0])


def _serve(
    spec: DeliverySpec,
    jobs: Queue[TimerPayload | None],
    reports: Queue[Report | None],
    lock: Any,
    stopping: Any,
) -> None:
    """A delivery process: build the graph on the server's file, then work the job queue."""
    from functions.local.allocator import limit_malloc_arenas  # noqa: PLC0415 - in the child

    limit_malloc_arenas()
    _exit_with_parent()
    from functions import wiring  # noqa: PLC0415
    from functions.adapters.sqlite import sqlite_adapters  # noqa: PLC0415
    from functions.adapters.sqlite.db import open_guest  # noqa: PLC0415
    from functions.config import Settings  # noqa: PLC0415
    from functions.local import console  # noqa: PLC0415
    from functions.observability import logger  # noqa: PLC0415
    from functions.services.plain_http import plain_http_first  # noqa: PLC0415
    from functions.services.transport import LazyTransport  # noqa: PLC0415

    console.install()
    logger.setLevel(spec.log_level)
    db = open_guest(spec.db_path, process_lock=lock)
    adapters = sqlite_adapters(
        db, timers=ForwardedTimers(reports), keys=spec.keys, tokens=spec.tokens
    )
    settings = Settings(dev_mode=True, allowed_hosts=spec.allowed_hosts)
    graph = wiring.build(settings, adapters, http=LazyTransport(make=plain_http_first))

    def worker() -> None:
        # Each worker takes its next job from the shared queue itself (its reads are locked):
        # a job waits for a free worker in whichever process has one, never behind a busy one.
        while (payload := jobs.get()) is not None and not stopping.is_set():
            try:
                graph.wake(payload)
            except Exception:
                logger.exception("timer target failed; armed again after the lease")
                reports.put(("failed", payload))

    workers = [
        threading.Thread(target=worker, name=f"delivery_{n}", daemon=True)
        for n in range(spec.threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    graph.http.close()
    db.close()
    reports.cancel_join_thread()


def _exit_with_parent() -> None:
    """A server killed outright (SIGKILL) cannot stop its delivery processes: they notice
    their parent is gone and leave too, instead of waiting on its queue for ever."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        with contextlib.suppress(Exception):
            parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
