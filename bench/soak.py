"""An hour of mixed load on `duetime dev`: memory stays flat, nothing is lost, stuck or doubled.

    .venv/bin/python -m bench.soak [--minutes 60] [--rate 20] [--duetime-args "..."]

Against a fresh `duetime dev --quiet --db <tempfile>` on a free loopback port (the embedded
engine with its file-backed SQLite store; --duetime-args replaces "--db <tempfile>"), and the
shared receiver (bench/peer/receiver.py, asyncio, its own process), for --minutes:

- publishes at a steady --rate (publish requests/s, default 20), mixed: immediate; delays of
  1-60 s; Upstash-Not-Before 1-60 s ahead; a destination that answers 500 once then 200
  (Upstash-Retry-Delay: 1000, so the retry lands 1 s later); one that always answers 500
  (Upstash-Retries: 2, Retry-Delay 1000: three attempts, then the DLQ); delayed messages
  cancelled a few seconds after publishing (DELETE /v2/messages/{id}); and the same
  Upstash-Deduplication-Id published twice (201, then 202 with the first id);
- --schedules cron schedules ("* * * * *", so about one fire a minute each), deleted when
  the load stops;
- a 4-step flow (POST /v2/flows/{id}) every --flow-every seconds.

Then it waits (at most --drain-seconds) until `GET /v2/stats` shows nothing scheduled and
every flow has finished, reads every published message back (GET /v2/messages/{id}), pages
through GET /v2/dlq, and reports:

- RSS (bench.pending's helpers): raw at start (before any load), the *start* figure = mean
  over the minute after the warm-up (--warmup-minutes, default 3: the first minutes fill
  SQLite's page cache, the heap, httpx's pools and the interpreter's free lists), the *end*
  figure = mean over the last minute of load; target: end within 10 % of start;
- errors: any API answer other than the one expected, and any exception (target 0);
- lost: published (201) but never received with a 2xx and not in the FAILED/CANCELED state
  the bench expected for it (target 0);
- stuck: not in a terminal state (DELIVERED/FAILED/CANCELED) after the drain (target 0);
- duplicates: 2xx deliveries of a key beyond the first (500-answered retries do not count);
  unexpected deliveries (a cancelled or always-failing message received with a 2xx); final
  states and retry counts other than expected; early deliveries (before the first due time); the
  DLQ holding every always-failing message; cron fires (expected +-1 per schedule); flows
  COMPLETED with every step SENT and each step received once.

The markdown table and the command go to stdout, the figures to bench/results/soak.json; the
exit status is 1 when a target is missed. Every phase has a time limit and a watchdog stops
the server and exits if the whole run overstays, so it always ends by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import heapq
import importlib.util
import itertools
import json
import os
import platform
import queue
import random
import shlex
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.peer import servers
from bench.peer.receiver import ReceiverProcess
from bench.peer.targets import DuetimePeer, Http
from bench.pending import _git, cpu_seconds, hwm_mb, rss_mb

RESULTS = Path(__file__).resolve().parent / "results"
RSS_TOLERANCE = 0.10  # end within 10 % of start
TERMINAL = frozenset({"DELIVERED", "FAILED", "CANCELED"})
ALWAYS_FAIL = 1_000_000  # /fail/N/ with N this large never answers 200
FAIL_RETRIES = 2  # Upstash-Retries of the always-failing messages: 3 attempts
RETRY_DELAY_MS = "1000"
FLOW_DELAYS = ("0s", "3s", "5s", "10s")
# Share of the publish actions; "dedup" is two publish requests.
MIX: dict[str, float] = {
    "immediate": 0.25,
    "delay": 0.20,
    "not_before": 0.15,
    "retry_once": 0.10,
    "always_fail": 0.05,
    "cancel": 0.15,
    "dedup": 0.10,
}
EXPECTED_STATE = {
    "immediate": "DELIVERED",
    "delay": "DELIVERED",
    "not_before": "DELIVERED",
    "retry_once": "DELIVERED",
    "always_fail": "FAILED",
    "cancel": "CANCELED",
    "dedup": "DELIVERED",
}
# Every other kind must be delivered at its first attempt: a retry means duetime saw a failure.
EXPECTED_RETRIED = {"retry_once": 1, "always_fail": FAIL_RETRIES}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- the API client ------------------------------------------------------------------------


class Api(Http):
    """targets.Http (keep-alive http.client, TCP_NODELAY) with any method."""

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        if self.conn.sock is None:
            self.conn.connect()
            assert self.conn.sock is not None
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except Exception:
            self.conn.close()  # the next request reconnects
            raise


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- what the bench published and expects ----------------------------------------------------


@dataclass
class Tracked:
    key: str
    kind: str
    message_id: str
    published_at: float  # unix s, when the 201 came back
    expected: str  # the terminal state it must end in
    delay_s: int = 0  # Upstash-Delay
    not_before_s: int | None = None  # Upstash-Not-Before
    cancel_accepted: bool | None = None
    final: dict[str, Any] | None = None  # GET /v2/messages/{id} after the drain

    def first_due(self) -> float | None:
        """When the first attempt was due, unix s (notBefore moves on with each retry)."""
        if self.not_before_s is not None:
            return float(self.not_before_s)
        created = (self.final or {}).get("createdAt")
        return created / 1000 + self.delay_s if isinstance(created, int) else None


@dataclass
class Flow:
    flow_id: str
    keys: list[str]
    started_at: float
    final: dict[str, Any] | None = None


@dataclass
class Schedule:
    schedule_id: str
    key: str
    created_at: float
    deleted_at: float | None = None


@dataclass
class Errors:
    """Every unexpected answer or exception, counted by what and kept as a few samples."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def add(self, what: str, detail: str) -> None:
        with self.lock:
            self.counts[what] += 1
            if len(self.samples) < 30:
                self.samples.append(f"{time.strftime('%H:%M:%S')} {what}: {detail[:300]}")

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())


@dataclass
class Sample:
    t: float  # s since the load started (negative: before)
    rss_mb: float
    cpu_s: float
    load1: float


class Sampler:
    """RSS, CPU and load average of the server every `interval` s, kept as a series."""

    def __init__(self, pid: int, interval: float, started: float) -> None:
        self.pid = pid
        self.interval = interval
        self.started = started
        self.series: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def take(self) -> Sample:
        sample = Sample(
            t=round(time.monotonic() - self.started, 1),
            rss_mb=rss_mb(self.pid),
            cpu_s=round(cpu_seconds(self.pid), 2),
            load1=round(os.getloadavg()[0], 2),
        )
        self.series.append(sample)
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.take()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def mean_rss(self, start: float, end: float) -> float:
        values = [s.rss_mb for s in self.series if start <= s.t <= end]
        return round(statistics.fmean(values), 1) if values else 0.0

    def slope_mb_per_h(self, start: float, end: float) -> float:
        points = [(s.t, s.rss_mb) for s in self.series if start <= s.t <= end]
        if len(points) < 3:
            return 0.0
        slope, _ = statistics.linear_regression(*zip(*points, strict=True))
        return round(slope * 3600, 1)


# --- the load ------------------------------------------------------------------------------


Action = Callable[[Api], None]


class Soak:
    def __init__(self, args: argparse.Namespace, server: servers.Duetime, rx: ReceiverProcess):
        self.args = args
        self.server = server
        self.rx = rx
        self.rng = random.Random(args.seed)
        self.errors = Errors()
        self.lock = threading.Lock()
        self.tracked: list[Tracked] = []
        self.flows: list[Flow] = []
        self.schedules: list[Schedule] = []
        self.seq = 0
        self.publish_requests = 0
        self.publish_ok = 0
        self.cancels: list[tuple[float, int, Tracked]] = []  # heap of (monotonic due, n, t)
        self._cancel_seq = itertools.count()
        self.work: queue.Queue[Action | None] = queue.Queue()
        self.behind = 0  # dispatcher ticks that found the work queue backed up
        self.queue_peak = 0
        self.abort = threading.Event()

    # one request, checked ---------------------------------------------------------------

    def request(
        self,
        conn: Api,
        what: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, dict[str, Any]] | None:
        """The answer, or None after counting an error (an exception or an unexpected status)."""
        try:
            status, text = conn.call(method, path, body, headers)
        except Exception as exc:
            self.errors.add(f"{what} exception", f"{type(exc).__name__}: {exc}")
            return None
        if status not in expect:
            self.errors.add(f"{what} {status}", f"{method} {path[:120]} -> {text}")
            return None
        return status, _json(text)

    def next_key(self, kind: str) -> str:
        with self.lock:
            self.seq += 1
            return f"{kind}-{self.seq}"

    def body(self, key: str) -> bytes:
        pad = "x" * self.rng.randint(0, 1500)
        return json.dumps({"k": key, "pad": pad}).encode()

    # publishes --------------------------------------------------------------------------

    def publish(self, conn: Api, kind: str, route: str, headers: dict[str, str]) -> None:
        key = self.next_key(kind)
        destination = self.rx.url(f"{route}/{kind}")
        body = self.body(key)
        path = f"/v2/publish/{destination}"
        answer = self.request(
            conn, f"publish {kind}", "POST", path, body=body, headers=headers, expect=(201,)
        )
        with self.lock:
            self.publish_requests += 1
        if answer is None:
            return
        message_id = str(answer[1].get("messageId", ""))
        if not message_id:
            self.errors.add(f"publish {kind} no id", str(answer[1]))
            return
        tracked = Tracked(key, kind, message_id, time.time(), EXPECTED_STATE[kind])
        tracked.delay_s = int(headers.get("Upstash-Delay", "0s").removesuffix("s"))
        if "Upstash-Not-Before" in headers:
            tracked.not_before_s = int(headers["Upstash-Not-Before"])
        with self.lock:
            self.publish_ok += 1
            self.tracked.append(tracked)
        if kind == "cancel":
            after = self.rng.uniform(2, 10)
            with self.lock:
                due = time.monotonic() + after
                heapq.heappush(self.cancels, (due, next(self._cancel_seq), tracked))
        if kind == "dedup":
            self.publish_again(conn, tracked, destination, body, headers)

    def publish_again(
        self, conn: Api, first: Tracked, destination: str, body: bytes, headers: dict[str, str]
    ) -> None:
        path = f"/v2/publish/{destination}"
        answer = self.request(
            conn, "publish dedup", "POST", path, body=body, headers=headers, expect=(201, 202)
        )
        with self.lock:
            self.publish_requests += 1
        if answer is None:
            return
        status, data = answer
        with self.lock:
            self.publish_ok += 1
        if status == 202 and data.get("messageId") == first.message_id and data.get("deduplicated"):
            return
        self.errors.add("publish dedup (2nd) not deduplicated", f"{status} {data}")
        if status == 201 and data.get("messageId"):  # a second message: track it too
            second = Tracked(first.key, "dedup", str(data["messageId"]), time.time(), "DELIVERED")
            second.delay_s = first.delay_s
            with self.lock:
                self.tracked.append(second)

    def action(self, kind: str) -> Action:
        rng = self.rng
        headers: dict[str, str] = {}
        path = "/ok"
        if kind == "delay":
            headers["Upstash-Delay"] = f"{rng.randint(1, 60)}s"
        elif kind == "not_before":
            headers["Upstash-Not-Before"] = str(int(time.time()) + rng.randint(1, 60))
        elif kind == "retry_once":
            path = "/fail/1"
            headers["Upstash-Retry-Delay"] = RETRY_DELAY_MS
            if (delay := rng.randint(0, 10)) > 0:
                headers["Upstash-Delay"] = f"{delay}s"
        elif kind == "always_fail":
            path = f"/fail/{ALWAYS_FAIL}"
            headers["Upstash-Retries"] = str(FAIL_RETRIES)
            headers["Upstash-Retry-Delay"] = RETRY_DELAY_MS
            if (delay := rng.randint(0, 10)) > 0:
                headers["Upstash-Delay"] = f"{delay}s"
        elif kind == "cancel":
            headers["Upstash-Delay"] = f"{rng.randint(30, 60)}s"
        elif kind == "dedup":
            headers["Upstash-Deduplication-Id"] = f"soak-{rng.getrandbits(64):016x}"
            headers["Upstash-Delay"] = f"{rng.randint(1, 30)}s"
        return lambda conn: self.publish(conn, kind, path, headers)

    def cancel(self, conn: Api, tracked: Tracked) -> None:
        answer = self.request(conn, "cancel", "DELETE", f"/v2/messages/{tracked.message_id}")
        if answer is None:
            tracked.cancel_accepted = False
            tracked.expected = "DELIVERED"  # whatever happens, it was not cancelled by us
            return
        accepted = answer[1].get("cancelled") == 1
        tracked.cancel_accepted = accepted
        if not accepted:  # 0: already finished; with 30-60 s delays and 2-10 s, never expected
            self.errors.add("cancel answered cancelled != 1", f"{tracked.message_id} {answer[1]}")
            tracked.expected = "DELIVERED"

    # flows and schedules ----------------------------------------------------------------

    def start_flow(self, conn: Api) -> None:
        with self.lock:
            number = len(self.flows) + 1
        flow_id = f"soak-flow-{number}"
        keys = [f"flow-{number}-step-{n}" for n in range(1, len(FLOW_DELAYS) + 1)]
        steps = [
            {
                "id": f"step_{n}",
                "destination": self.rx.url("/flow"),
                "body": {"k": key},
                "delay": delay,
            }
            for n, (key, delay) in enumerate(zip(keys, FLOW_DELAYS, strict=True), start=1)
        ]
        body = json.dumps({"stateToken": "soak:start", "steps": steps}).encode()
        path = f"/v2/flows/{flow_id}"
        if self.request(conn, "flow start", "POST", path, body=body, expect=(201,)):
            with self.lock:
                self.flows.append(Flow(flow_id, keys, time.time()))

    def create_schedules(self, conn: Api) -> None:
        for n in range(self.args.schedules):
            name = chr(ord("A") + n) if n < 26 else str(n)
            key = f"cron-{name}"
            headers = {"Upstash-Cron": "* * * * *", "Upstash-Schedule-Id": f"soak-cron-{name}"}
            destination = self.rx.url(f"/cron/{name}")
            body = json.dumps({"k": key}).encode()
            path = f"/v2/schedules/{destination}"
            answer = self.request(
                conn, "schedule create", "POST", path, body=body, headers=headers, expect=(201,)
            )
            if answer is not None:
                schedule_id = str(answer[1].get("scheduleId", f"soak-cron-{name}"))
                self.schedules.append(Schedule(schedule_id, key, time.time()))

    def delete_schedules(self, conn: Api) -> None:
        for schedule in self.schedules:
            path = f"/v2/schedules/{schedule.schedule_id}"
            self.request(conn, "schedule delete", "DELETE", path)
            schedule.deleted_at = time.time()

    # the workers and the dispatcher -----------------------------------------------------

    def worker(self, conn: Api) -> None:
        while (job := self.work.get()) is not None:
            try:
                job(conn)
            except Exception as exc:  # a bug in the bench: count it, keep going
                self.errors.add("bench exception", "".join(traceback.format_exception(exc)))
            finally:
                self.work.task_done()
        self.work.task_done()

    def due_cancels(self, now: float, everything: bool = False) -> None:
        while True:
            with self.lock:
                if not self.cancels or (not everything and self.cancels[0][0] > now):
                    return
                _, _, tracked = heapq.heappop(self.cancels)
            self.work.put(functools.partial(self.cancel, tracked=tracked))

    def run_load(self, seconds: float, on_minute: Callable[[int], None]) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        cost = {kind: 2 if kind == "dedup" else 1 for kind in kinds}
        start = time.monotonic()
        end = start + seconds
        next_at = start
        next_flow = start + 5
        minute = 0
        limit = max(50, self.args.rate * 5)  # 5 s of work queued = the server is behind
        while (now := time.monotonic()) < end and not self.abort.is_set():
            if now < next_at:
                time.sleep(min(next_at - now, 0.05))
                continue
            self.due_cancels(now)
            if now >= next_flow and self.args.flow_every > 0:
                self.work.put(self.start_flow)
                next_flow += self.args.flow_every
            depth = self.work.qsize()
            self.queue_peak = max(self.queue_peak, depth)
            if depth > limit:
                self.behind += 1  # skip this tick rather than queue without bound
                next_at += 1 / self.args.rate
            else:
                kind = self.rng.choices(kinds, weights)[0]
                self.work.put(self.action(kind))
                next_at += cost[kind] / self.args.rate
            next_at = max(next_at, now - 1)  # never burst more than 1 s to catch up
            if (elapsed := int((now - start) // 60)) > minute:
                minute = elapsed
                on_minute(minute)

    def flush(self, timeout: float) -> bool:
        """Run the cancels still waiting and wait for the queue to empty (False: timed out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.due_cancels(time.monotonic())
            with self.lock:
                waiting = bool(self.cancels)
            if not waiting and self.work.unfinished_tasks == 0:
                return True
            time.sleep(0.2)
        self.due_cancels(time.monotonic(), everything=True)
        return False


# --- the checks after the drain ------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def read_back(soak: Soak, conns: list[Api], timeout: float) -> int:
    """GET every tracked message with len(conns) threads; returns how many were not read."""
    todo: queue.Queue[Tracked] = queue.Queue()
    for tracked in soak.tracked:
        todo.put(tracked)
    deadline = time.monotonic() + timeout

    def run(conn: Api) -> None:
        while time.monotonic() < deadline:
            try:
                tracked = todo.get_nowait()
            except queue.Empty:
                return
            path = f"/v2/messages/{tracked.message_id}"
            answer = soak.request(conn, "read back", "GET", path)
            if answer is not None:
                tracked.final = answer[1]

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + 5))
    return sum(1 for t in soak.tracked if t.final is None)


def dlq_ids(soak: Soak, conn: Api, timeout: float) -> tuple[set[str], bool]:
    """Every message id in GET /v2/dlq (cursor pages of 100); False if it did not finish."""
    found: set[str] = set()
    cursor: str | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = "/v2/dlq?count=100" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
        answer = soak.request(conn, "dlq list", "GET", path)
        if answer is None:
            return found, False
        data = answer[1]
        found |= {str(m.get("messageId")) for m in data.get("messages", [])}
        cursor = data.get("cursor")
        if not cursor:
            return found, True
    return found, False


def stats(soak: Soak, conn: Api) -> dict[str, Any]:
    answer = soak.request(conn, "stats", "GET", "/v2/stats")
    return answer[1] if answer is not None else {}


def drain(soak: Soak, conn: Api, timeout: float) -> tuple[bool, float]:
    """Wait until /v2/stats schedules nothing and every flow has ended (True), or timeout."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline and soak.server.process.poll() is None:
        scheduled = stats(soak, conn).get("scheduled")
        if scheduled == 0 and all(_flow_done(soak, conn, f) for f in soak.flows):
            return True, round(time.monotonic() - start, 1)
        time.sleep(5)
    return False, round(time.monotonic() - start, 1)


def _flow_done(soak: Soak, conn: Api, flow: Flow) -> bool:
    if flow.final is not None and flow.final.get("status") != "RUNNING":
        return True
    answer = soak.request(conn, "flow read", "GET", f"/v2/flows/{flow.flow_id}")
    if answer is None:
        return True  # counted as an error; do not wait for it
    flow.final = answer[1]
    return flow.final.get("status") != "RUNNING"


@dataclass
class Findings:
    """What differs from what the bench expected, with a few examples of each."""

    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    early: list[str] = field(default_factory=list)
    not_in_dlq: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)
    suspects: list[Tracked] = field(default_factory=list)  # the messages behind the above

    def message(self, tracked: Tracked, arrivals: list[float], dlq: set[str]) -> None:
        final = tracked.final or {}
        state = str(final.get("state", "?"))
        name = f"{tracked.kind} {tracked.message_id}"
        self.states[f"{tracked.kind}:{state}"] += 1
        before = self.count()
        if tracked.final is None:
            self.unread.append(tracked.message_id)
        elif state not in TERMINAL:
            self.stuck.append(f"{name} {state} retried={final.get('retried')}")
        if not arrivals and tracked.expected == "DELIVERED":
            self.lost.append(f"{name} {state}, never received")
        elif not arrivals and state != tracked.expected:
            self.lost.append(f"{name} {state}, expected {tracked.expected}")
        if tracked.final is not None and state != tracked.expected:
            self.mismatched.append(f"{name} {state} != {tracked.expected}")
        want = EXPECTED_RETRIED.get(tracked.kind, 0)
        retried = final.get("retried")
        if tracked.final is not None and tracked.expected != "CANCELED" and retried != want:
            self.mismatched.append(f"{name} retried={retried} != {want}")
        if tracked.expected != "DELIVERED" and arrivals:
            self.unexpected.append(f"{name} received {len(arrivals)}x")
        if tracked.kind == "always_fail" and tracked.message_id not in dlq:
            self.not_in_dlq.append(tracked.message_id)
        due = tracked.first_due()
        if arrivals and due is not None:
            late = min(arrivals) - due
            if late < -0.001:
                self.early.append(f"{name} {-late:.3f} s before its first due time")
            if tracked.kind != "retry_once":
                self.lateness.append(late)
        if self.count() > before:
            self.suspects.append(tracked)

    def count(self) -> int:
        return sum(
            len(x) for x in (self.lost, self.stuck, self.unexpected, self.mismatched, self.early)
        )


def _crons(soak: Soak, received: dict[str, list[float]]) -> list[dict[str, Any]]:
    crons = []
    for schedule in soak.schedules:
        fires = len(received.get(schedule.key, []))
        end = schedule.deleted_at or time.time()
        expected = int(end // 60) - int(schedule.created_at // 60)  # minute boundaries passed
        crons.append(
            {
                "scheduleId": schedule.schedule_id,
                "fires": fires,
                "expected": expected,
                "ok": abs(fires - expected) <= 1,
            }
        )
    return crons


def _flows(soak: Soak, received: dict[str, list[float]]) -> dict[str, Any]:
    ok, problems, sent_total = 0, [], 0
    for flow in soak.flows:
        final = flow.final or {}
        steps = final.get("steps", [])
        sent = sum(1 for s in steps if s.get("status") == "SENT")
        sent_total += sent
        counts = [len(received.get(k, [])) for k in flow.keys]
        complete = final.get("status") == "COMPLETED" and sent == len(flow.keys)
        if complete and counts == [1] * len(counts):
            ok += 1
        else:
            statuses = [s.get("status") for s in steps]
            problems.append(f"{flow.flow_id} {final.get('status')} {statuses} received {counts}")
    return {
        "flows": len(soak.flows),
        "flows_ok": ok,
        "flow_steps_sent": sent_total,
        "flow_steps_expected": sum(len(f.keys) for f in soak.flows),
        "problems": problems,
    }


def evidence(
    soak: Soak,
    conn: Api,
    tracked: Tracked,
    received: dict[str, list[float]],
    failures: dict[str, list[float]],
) -> dict[str, Any]:
    """What is known about one suspect message: its record, arrivals and event log."""
    final = {k: v for k, v in (tracked.final or {}).items() if k not in {"body", "header"}}
    answer = soak.request(conn, "events", "GET", f"/v2/events?messageId={tracked.message_id}")
    keep = ("time", "state", "retried", "responseStatus", "error", "nextDeliveryTime")
    events = [
        {k: e[k] for k in keep if k in e}
        for e in (answer[1].get("events", []) if answer is not None else [])
    ]
    return {
        "key": tracked.key,
        "kind": tracked.kind,
        "messageId": tracked.message_id,
        "first_due_ms": round((tracked.first_due() or 0) * 1000),
        "published_at_ms": round(tracked.published_at * 1000),
        "delivered_2xx_at_ms": [round(t * 1000) for t in received.get(tracked.key, [])],
        "answered_500_at_ms": [round(t * 1000) for t in failures.get(tracked.key, [])],
        "arrivals": soak.rx.arrivals(tracked.key),
        "message": final,
        "events": sorted(events, key=lambda e: int(e.get("time", 0))),
    }


def check(soak: Soak, conn: Api, dlq: set[str], dlq_complete: bool) -> dict[str, Any]:
    """Compare what was published with what the receiver got and what the API says."""
    records, unkeyed = soak.rx.records("")
    failures = soak.rx.failures("")
    received: dict[str, list[float]] = {}
    for key, at in records:
        received.setdefault(key, []).append(at)
    failed_at: Counter[str] = Counter(key for key, _ in failures)
    failed_times: dict[str, list[float]] = {}
    for key, at in failures:
        failed_times.setdefault(key, []).append(at)
    found = Findings()
    by_key: dict[str, list[Tracked]] = {}
    for tracked in soak.tracked:
        by_key.setdefault(tracked.key, []).append(tracked)
        found.message(tracked, received.get(tracked.key, []), dlq)
    for key, trackeds in by_key.items():
        times = len(received.get(key, []))
        if times > 1 and trackeds[0].expected == "DELIVERED":
            found.duplicates.append(f"{key} ({trackeds[0].message_id}) received {times}x")
            found.suspects += [t for t in trackeds if t not in found.suspects]
    known = set(by_key) | {s.key for s in soak.schedules} | {k for f in soak.flows for k in f.keys}
    found.unexpected += [f"stray key {k}" for k in sorted(received) if k not in known]

    ours = {t.message_id for t in soak.tracked}
    fail_ids = {t.message_id for t in soak.tracked if t.kind == "always_fail"}
    dlq_unexpected = sorted((dlq & ours) - fail_ids)
    retrying = [t for t in soak.tracked if t.kind in {"retry_once", "always_fail"}]
    flows = _flows(soak, received)
    late = found.lateness
    return {
        "published_messages": len(soak.tracked),
        "received_records": len(records),
        "received_distinct_keys": len(received),
        "unkeyed_posts": unkeyed,
        "failures_answered": len(failures),
        "retry_failures": sum(failed_at[t.key] for t in retrying),
        "retry_failures_expected": sum(
            1 if t.kind == "retry_once" else FAIL_RETRIES + 1 for t in retrying
        ),
        "states": dict(sorted(found.states.items())),
        "unread": len(found.unread),
        "lost": len(found.lost),
        "stuck": len(found.stuck),
        "duplicates": len(found.duplicates),
        "unexpected_deliveries": len(found.unexpected),
        "state_mismatches": len(found.mismatched),
        "early": len(found.early),
        "dlq_expected": len(fail_ids),
        "dlq_present": len(fail_ids & dlq),
        "dlq_missing": len(found.not_in_dlq),
        "dlq_unexpected": len(dlq_unexpected),
        "dlq_complete": dlq_complete,
        "dlq_total": len(dlq),
        "crons": _crons(soak, received),
        **{k: v for k, v in flows.items() if k != "problems"},
        "lateness_ms": {
            "count": len(late),
            "p50": round(_percentile(late, 50) * 1000, 1),
            "p99": round(_percentile(late, 99) * 1000, 1),
            "max": round(max(late, default=0.0) * 1000, 1),
        },
        "anomalies": [evidence(soak, conn, t, received, failed_times) for t in found.suspects[:10]],
        "examples": {
            "lost": found.lost[:20],
            "stuck": found.stuck[:20],
            "duplicates": found.duplicates[:20],
            "unexpected": found.unexpected[:20],
            "mismatched": found.mismatched[:20],
            "early": found.early[:20],
            "not_in_dlq": found.not_in_dlq[:20],
            "dlq_unexpected": dlq_unexpected[:20],
            "flows": flows["problems"][:20],
            "unread": found.unread[:20],
        },
    }


# --- report --------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def targets(report: dict[str, Any]) -> dict[str, bool]:
    c, rss = report["checks"], report["rss_mb"]
    return {
        "rss": rss["change"] is not None and abs(rss["change"]) <= RSS_TOLERANCE,
        "errors": report["errors"]["total"] == 0,
        "lost": c["lost"] == 0,
        "stuck": c["stuck"] == 0 and c["unread"] == 0,
        "duplicates": c["duplicates"] == 0,
        "unexpected": c["unexpected_deliveries"] == 0,
        "mismatches": c["state_mismatches"] == 0,
        "early": c["early"] == 0,
        "dlq": c["dlq_missing"] == 0 and c["dlq_unexpected"] == 0 and c["dlq_complete"],
        "crons": all(s["ok"] for s in c["crons"]),
        "flows": c["flows_ok"] == c["flows"],
        "drained": report["drain"]["finished"]
        and report["stats_after_drain"].get("scheduled") == 0,
        "alive": report["server_alive_at_end"],
    }


def table(report: dict[str, Any]) -> str:
    c, rss, met = report["checks"], report["rss_mb"], report["met"]
    load, drain = report["load"], report["drain"]
    kinds = ", ".join(f"{k} {n:,}" for k, n in load["by_kind"].items())
    change = f"{rss['change'] * 100:+.1f} %" if rss["change"] is not None else "?"
    crons = ", ".join(f"{s['fires']} (expected {s['expected']})" for s in c["crons"]) or "none"
    late = c["lateness_ms"]
    left = report["stats_after_drain"].get("scheduled")
    end_span = rss["end_window"][1] - rss["end_window"][0]
    rows = [
        (
            "load",
            f"{load['minutes']:g} min at {load['rate']:g} publishes/s offered: "
            f"{load['publish_ok']:,} of {load['publish_requests']:,} publish requests answered "
            f"as expected ({load['achieved_rate']:.1f}/s); {load['ticks_skipped']} ticks skipped "
            "with the server behind",
            "",
            "",
        ),
        ("messages by kind", kinds, "", ""),
        (
            "RSS raw start (2 s after the banner, before any load)",
            f"{rss['raw_start']} MB",
            "",
            "",
        ),
        (
            f"RSS start (mean of minute {rss['start_window'][0] / 60:.3g}-"
            f"{rss['start_window'][1] / 60:.3g}, after the warm-up)",
            f"{rss['start']} MB",
            "",
            "",
        ),
        (
            f"RSS end (mean of the last {end_span:.0f} s of load)",
            f"{rss['end']} MB ({change})",
            f"within ±{RSS_TOLERANCE * 100:.0f} % of start",
            _mark(met["rss"]),
        ),
        (
            "RSS peak sampled / VmHWM; after the drain",
            f"{rss['peak_sampled']} / {rss['peak_hwm']} MB; {rss['after_drain']} MB",
            "",
            "",
        ),
        (
            "RSS trend after the warm-up (least squares)",
            f"{rss['slope_mb_per_h']:+.1f} MB/h",
            "",
            "",
        ),
        (
            "errors (unexpected API answers, exceptions)",
            str(report["errors"]["total"]),
            "0",
            _mark(met["errors"]),
        ),
        ("lost", str(c["lost"]), "0", _mark(met["lost"])),
        (
            "stuck (not terminal after the drain; unread)",
            f"{c['stuck']}; {c['unread']} unread",
            "0",
            _mark(met["stuck"]),
        ),
        (
            "duplicates (2xx deliveries beyond the first)",
            str(c["duplicates"]),
            "0",
            _mark(met["duplicates"]),
        ),
        (
            "unexpected deliveries (cancelled, always failing or unknown key)",
            str(c["unexpected_deliveries"]),
            "0",
            _mark(met["unexpected"]),
        ),
        (
            "final state or retry count other than expected",
            str(c["state_mismatches"]),
            "0",
            _mark(met["mismatches"]),
        ),
        ("early deliveries (before the first due time)", str(c["early"]), "0", _mark(met["early"])),
        (
            "always-failing messages in GET /v2/dlq",
            f"{c['dlq_present']:,} of {c['dlq_expected']:,} ({c['dlq_unexpected']} others of ours)",
            "all, no others",
            _mark(met["dlq"]),
        ),
        (
            "500s answered to retrying messages",
            f"{c['retry_failures']:,} (expected {c['retry_failures_expected']:,})",
            "",
            "",
        ),
        ("cron fires per schedule", crons, "expected ±1", _mark(met["crons"])),
        (
            "flows COMPLETED, every step SENT and received once",
            f"{c['flows_ok']} of {c['flows']} ({c['flow_steps_sent']} of "
            f"{c['flow_steps_expected']} steps SENT)",
            "all",
            _mark(met["flows"]),
        ),
        (
            "cancels accepted",
            f"{report['cancels']['accepted']:,} of {report['cancels']['sent']:,}",
            "",
            "",
        ),
        (
            "drain: nothing scheduled in GET /v2/stats",
            ("after" if drain["finished"] else "NOT within")
            + f" {drain['seconds']:.0f} s (scheduled {left})",
            f"<= {drain['limit']:.0f} s, 0 left",
            _mark(met["drained"]),
        ),
        ("overdue in GET /v2/stats (max of per-minute polls)", str(report["overdue_max"]), "", ""),
        (
            "lateness after the first due time, p50 / p99 / max",
            f"{late['p50']:,} / {late['p99']:,} / {late['max']:,} ms over {late['count']:,}",
            "",
            "",
        ),
        (
            "server CPU over the load",
            f"{report['server_cpu_pct']} % of one core",
            "",
            "",
        ),
        ("SQLite file at the end", report["db_size"], "", ""),
        (
            "load average 1/5/15: start -> warm-up -> end",
            f"{report['loadavg']['start']} -> {report['loadavg']['warm']} -> "
            f"{report['loadavg']['end']} (max 1-min {report['loadavg']['max1']})",
            "",
            "",
        ),
    ]
    lines = ["| measure | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {d} | {e} |" for a, b, d, e in rows]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.soak", description=(__doc__ or "").split("\n")[0]
    )
    p.add_argument("--minutes", type=float, default=60, help="minutes of load")
    p.add_argument(
        "--warmup-minutes",
        type=float,
        default=3,
        help="RSS 'start' is the mean of the minute after this (at most a third of --minutes)",
    )
    p.add_argument("--rate", type=float, default=20, help="publish requests/s offered")
    p.add_argument("--workers", type=int, default=4, help="concurrent API clients")
    p.add_argument("--schedules", type=int, default=2, help='cron schedules ("* * * * *")')
    p.add_argument("--flow-every", type=float, default=120, help="s between flows (0: none)")
    p.add_argument("--rss-interval", type=float, default=5, help="s between RSS samples")
    p.add_argument("--drain-seconds", type=float, default=300, help="limit for the drain")
    p.add_argument("--readback-seconds", type=float, default=900, help="limit for GET of all")
    p.add_argument("--seed", type=int, default=1, help="for the mix, delays and body sizes")
    p.add_argument(
        "--duetime-args",
        default=None,
        help='`duetime dev` flags instead of "--db <tempfile>" ("" for the in-memory store)',
    )
    p.add_argument("--keep-db", action="store_true", help="keep the temporary SQLite file")
    p.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    return p


def _db_size(extra: list[str]) -> str:
    if "--db" not in extra or extra.index("--db") + 1 >= len(extra):
        return "(no --db)"
    path = Path(extra[extra.index("--db") + 1])
    sizes = [f.stat().st_size for f in (path, path.with_name(path.name + "-wal")) if f.exists()]
    return f"{sum(sizes) / 1e6:.1f} MB (with the WAL)" if sizes else "(missing)"


def _watchdog(seconds: float, cleanups: list[Callable[[], object]]) -> threading.Event:
    """Run the cleanups (stop the server, the receiver) and exit 3 if the run is still going
    after `seconds`; set the event it returns to call it off."""
    done = threading.Event()

    def run() -> None:
        if done.wait(seconds):
            return
        print(f"soak: still running after {seconds:.0f} s; stopping", file=sys.stderr, flush=True)
        for cleanup in cleanups:
            with contextlib.suppress(Exception):
                cleanup()
        os._exit(3)

    threading.Thread(target=run, name="watchdog", daemon=True).start()
    return done


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.soak", *(argv or sys.argv[1:])])
    load_seconds = args.minutes * 60
    warmup = min(args.warmup_minutes * 60, load_seconds / 3)
    workdir: Path | None = None
    if args.duetime_args is None:
        workdir = Path(tempfile.mkdtemp(prefix="duetime-soak-"))
        extra = ["--quiet", "--db", str(workdir / "soak.db")]
    else:
        extra = ["--quiet", *shlex.split(args.duetime_args)]
    loadavg: dict[str, Any] = {"start": _load()}
    git = _git()
    peer = DuetimePeer(extra)
    budget = load_seconds + 120 + args.drain_seconds + args.readback_seconds + 900
    cleanups: list[Callable[[], object]] = [peer.stop]
    done = _watchdog(budget, cleanups)
    try:
        with ReceiverProcess() as rx:
            cleanups.append(rx.__exit__)  # a spawned child outlives os._exit otherwise
            try:
                peer.start()
            except servers.StartError as exc:
                print(f"duetime dev did not start: {exc}", file=sys.stderr)
                return 2
            assert peer.server is not None
            try:
                report = run(
                    args, peer, rx, load_seconds=load_seconds, warmup=warmup, loadavg=loadavg
                )
            except BaseException:
                print(peer.tail(), file=sys.stderr)
                raise
            report["db_size"] = _db_size(extra)
    finally:
        peer.stop()
        done.set()
        if workdir is not None and not args.keep_db:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "command": command,
        "duetime_args": " ".join(extra),
        "git": git,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "rss_source": "psutil"
        if importlib.util.find_spec("psutil")
        else "/proc/<pid>/status VmRSS",
        **report,
    }
    report["met"] = targets(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if show(report, args.out) else 0


def show(report: dict[str, Any], out: Path) -> list[str]:
    """Print the table, the command and what went wrong; the names of the targets missed."""
    print()
    print(table(report))
    print()
    print(f"command: `{report['command']}`; figures: {out}")
    if report["errors"]["samples"]:
        print("first errors:\n  " + "\n  ".join(report["errors"]["samples"][:10]))
    for name, examples in report["checks"]["examples"].items():
        if examples:
            print(f"{name}: " + "; ".join(examples[:5]))
    for anomaly in report["checks"]["anomalies"][:5]:
        print("anomaly: " + json.dumps(anomaly))
    missed = [name for name, ok in report["met"].items() if not ok]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return missed


def run(  # noqa: PLR0915 - the phases in order
    args: argparse.Namespace,
    peer: DuetimePeer,
    rx: ReceiverProcess,
    *,
    load_seconds: float,
    warmup: float,
    loadavg: dict[str, Any],
) -> dict[str, Any]:
    assert peer.server is not None
    server = peer.server
    pid = server.process.pid
    time.sleep(2)  # start-up work done before the raw baseline
    raw_start = rss_mb(pid)
    soak = Soak(args, server, rx)

    def client() -> Api:
        return Api(server.url, f"Bearer {server.token}")

    main_conn = client()
    conns = [client() for _ in range(args.workers)]
    threads = [
        threading.Thread(target=soak.worker, args=(c,), name=f"worker-{n}", daemon=True)
        for n, c in enumerate(conns)
    ]
    for thread in threads:
        thread.start()
    load_start = time.monotonic()
    sampler = Sampler(pid, args.rss_interval, load_start)
    sampler.take()
    sampler.start()
    cpu_start = cpu_seconds(pid)
    overdue: list[int] = []
    soak.create_schedules(main_conn)
    print(
        f"soak: {args.minutes:g} min at {args.rate:g} publishes/s against {server.url} "
        f"({' '.join(peer.extra_args)}), receiver on {rx.port}; RSS {raw_start} MB",
        flush=True,
    )

    def on_minute(minute: int) -> None:
        if server.process.poll() is not None:
            print(f"soak: duetime dev exited ({server.process.returncode})", flush=True)
            soak.abort.set()  # report what there is; the server is not alive at the end
            return
        figures = stats(soak, main_conn)
        if isinstance(figures.get("overdue"), int):
            overdue.append(figures["overdue"])
        if "warm" not in loadavg and minute * 60 >= warmup:
            loadavg["warm"] = _load()
        sample = sampler.series[-1] if sampler.series else sampler.take()
        try:
            keys = f"{rx.count(''):,}"
        except Exception as exc:  # the receiver is checked at the end; keep the load going
            keys = f"? ({type(exc).__name__})"
        print(
            f"[{minute:>3} min] published {soak.publish_ok:,}/{soak.publish_requests:,}, "
            f"received {keys} keys, errors {soak.errors.total}, "
            f"RSS {sample.rss_mb} MB, load {sample.load1}, scheduled {figures.get('scheduled')}, "
            f"overdue {figures.get('overdue')}, queue {soak.work.qsize()}, skipped {soak.behind}",
            flush=True,
        )

    soak.run_load(load_seconds, on_minute)
    load_end = time.monotonic() - load_start
    cpu_load = cpu_seconds(pid) - cpu_start
    loadavg.setdefault("warm", _load())
    flushed = soak.flush(60)
    soak.delete_schedules(main_conn)
    print(f"soak: load done; draining (at most {args.drain_seconds:.0f} s)", flush=True)
    finished, drained_in = drain(soak, main_conn, args.drain_seconds)
    time.sleep(2)  # a delivery in flight when the stats said 0 finishes recording
    after_drain = stats(soak, main_conn)
    print(f"soak: drained={finished} in {drained_in:.0f} s; reading back", flush=True)
    for _ in threads:  # the workers are idle now; stop them before reading back
        soak.work.put(None)
    for thread in threads:
        thread.join(timeout=35)
    readers = [client() for _ in range(args.workers + 1)]  # fresh, so nothing is shared
    read_started = time.monotonic()
    unread = read_back(soak, readers, args.readback_seconds)
    read_seconds = time.monotonic() - read_started
    for flow in soak.flows:  # the final ledger of each flow
        _flow_done(soak, main_conn, flow)
    dlq, dlq_complete = dlq_ids(soak, main_conn, 300)
    rss_after_drain = sampler.take().rss_mb
    sampler.stop()
    alive = server.process.poll() is None
    peak_hwm = hwm_mb(pid) if alive else 0.0
    checks = check(soak, main_conn, dlq, dlq_complete)
    tail = peer.tail()
    for conn in [main_conn, *conns, *readers]:
        conn.close()
    loadavg["end"] = _load()
    loadavg["max1"] = max((s.load1 for s in sampler.series), default=0.0)

    window = min(60.0, (load_end - warmup) / 2)  # a minute, less on a short run
    start_window = (warmup, warmup + window)
    end_window = (load_end - window, load_end)
    start = sampler.mean_rss(*start_window)
    end = sampler.mean_rss(*end_window)
    by_kind = Counter(t.kind for t in soak.tracked)
    cancels = [t for t in soak.tracked if t.cancel_accepted is not None]
    return {
        "config": {
            "minutes": args.minutes,
            "warmup_s": warmup,
            "rate": args.rate,
            "workers": args.workers,
            "schedules": args.schedules,
            "flow_every_s": args.flow_every,
            "mix": MIX,
            "seed": args.seed,
            "retry_delay_ms": RETRY_DELAY_MS,
            "fail_retries": FAIL_RETRIES,
            "flow_delays": FLOW_DELAYS,
        },
        "load": {
            "minutes": args.minutes,
            "rate": args.rate,
            "seconds": round(load_end, 1),
            "publish_requests": soak.publish_requests,
            "publish_ok": soak.publish_ok,
            "achieved_rate": round(soak.publish_requests / max(1e-6, load_end), 2),
            "ticks_skipped": soak.behind,
            "queue_peak": soak.queue_peak,
            "flushed": flushed,
            "by_kind": dict(sorted(by_kind.items())),
        },
        "cancels": {
            "sent": len(cancels),
            "accepted": sum(1 for t in cancels if t.cancel_accepted),
        },
        "drain": {"finished": finished, "seconds": drained_in, "limit": args.drain_seconds},
        "readback": {"seconds": round(read_seconds, 1), "unread": unread},
        "stats_after_drain": after_drain,
        "overdue_max": max(overdue, default=0),
        "overdue_per_minute": overdue,
        "server_cpu_pct": round(100 * cpu_load / max(1e-6, load_end), 1),
        "server_alive_at_end": alive,
        "rss_mb": {
            "raw_start": raw_start,
            "start_window": start_window,
            "end_window": end_window,
            "start": start,
            "end": end,
            "change": round((end - start) / start, 4) if start else None,
            "after_drain": rss_after_drain,
            "peak_sampled": max((s.rss_mb for s in sampler.series), default=0.0),
            "peak_hwm": peak_hwm,
            "slope_mb_per_h": sampler.slope_mb_per_h(warmup, load_end),
            "samples": len(sampler.series),
        },
        "loadavg": loadavg,
        "errors": {
            "total": soak.errors.total,
            "by_kind": dict(soak.errors.counts),
            "samples": soak.errors.samples,
        },
        "checks": checks,
        "server_output_tail": tail.splitlines()[-40:],
        "series": [s.__dict__ for s in sampler.series],
    }


if __name__ == "__main__":
    sys.exit(main())
