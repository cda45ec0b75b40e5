"""The shared publishing client: N worker threads, each with its own keep-alive connection
(targets.Http).

Threads in one process cap the client at one core for both peers alike; the CPU the client
used is reported so that a client-bound figure can be recognised as such.
"""

from __future__ import annotations

import json
import resource
import threading
import time
from dataclasses import dataclass

from bench.peer.targets import Http, Peer


@dataclass(frozen=True)
class Job:
    key: str
    due: int  # unix seconds, whole


@dataclass(frozen=True)
class Sent:
    key: str
    due: int
    sent_at: float
    acked_at: float
    error: str | None


@dataclass(frozen=True)
class Published:
    sent: list[Sent]
    unsent: int  # jobs not attempted because the publish time limit ran out
    started: float
    finished: float
    client_cpu_s: float

    @property
    def ok(self) -> list[Sent]:
        return [s for s in self.sent if s.error is None]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def publish_all(
    peer: Peer, destination: str, jobs: list[Job], workers: int, time_limit: float
) -> Published:
    """Publish jobs with `workers` concurrent clients; stop taking jobs after time_limit s."""
    lock = threading.Lock()
    cursor = iter(jobs)
    sent: list[Sent] = []
    clients = [peer.client(n) for n in range(workers)]
    deadline = time.monotonic() + time_limit

    def take() -> Job | None:
        with lock:
            return next(cursor, None)

    def work(conn: Http) -> None:
        mine: list[Sent] = []
        while time.monotonic() < deadline and (job := take()) is not None:
            body = json.dumps({"k": job.key, "due": job.due}).encode()
            started = time.time()
            error = None
            try:
                peer.publish(conn, destination, body, job.due)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
            mine.append(Sent(job.key, job.due, started, time.time(), error))
        with lock:
            sent.extend(mine)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    cpu, started = _cpu(), time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        # Bounded: a request in flight at the deadline has its own 30 s timeout.
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 60)
    finished, cpu_used = time.time(), _cpu() - cpu
    for conn in clients:
        conn.close()
    with lock:
        return Published(
            sent=list(sent),
            unsent=len(jobs) - len(sent),
            started=started,
            finished=finished,
            client_cpu_s=cpu_used,
        )
