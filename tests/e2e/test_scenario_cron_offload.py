"""Scenario 5 (shared/SCENARIOS.md), end to end on both engines: a dashboard's cron route only
enqueues durable work under a deterministic key and returns at once; the work runs through a
queue that caps its concurrency; the route's switch turns the offload off and on; and one
request id travels from the cron fire to every work delivery, the event log and the logs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tests.e2e.conftest import ENGINES, DevProcess, serving
from tests.helpers.receiver import Received, Receiver, Reply
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

QUEUE = "reports"
CAP = 2  # the route's concurrency cap: the reports database takes two at a time
FANOUT = 6  # work items one fire enqueues


class DashboardApp:
    """The scenario's app. `/cron` only enqueues (keyed by route and minute) and answers at
    once; `/work/<n>` is the slow work, whose concurrency and request ids are recorded."""

    def __init__(self, dev: DevProcess) -> None:
        self.dev = dev
        self.receiver = Receiver(self)
        self.in_flight = 0
        self.most_in_flight = 0
        self.work: list[Received] = []
        self.offloads: list[list[httpx.Response]] = []
        self.schedule_id = ""
        self._lock = threading.Lock()

    def __call__(self, request: Received, _index: int) -> Reply:
        if request.path == "/cron":
            window = int(request.at // 60)  # the fire's minute: the same for a repeated fire
            incoming = request.headers.get("X-Request-Id", "none")
            self.offloads.append(self.offload(window, f"{incoming}/{window}"))
            return Reply()
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.work.append(request)
        time.sleep(1.0)  # long enough that the two slots overlap even on a loaded machine
        with self._lock:
            self.in_flight -= 1
        return Reply()

    def offload(self, window: int, request_id: str) -> list[httpx.Response]:
        """What the cron route does: enqueue the work with deterministic keys, nothing else."""
        return [
            httpx.post(
                f"{self.dev.url}/v2/enqueue/{QUEUE}/{self.receiver.url(f'/work/{n}')}",
                content=json.dumps({"window": window, "part": n}),
                headers={
                    "Authorization": f"Bearer {self.dev.token}",
                    "Content-Type": "application/json",
                    "Upstash-Deduplication-Id": f"route-reports:{window}:{n}",
                    "X-Request-Id": request_id,
                },
            )
            for n in range(FANOUT)
        ]

    def api(self, method: str, path: str) -> httpx.Response:
        return httpx.request(
            method, f"{self.dev.url}{path}", headers={"Authorization": f"Bearer {self.dev.token}"}
        )


@contextmanager
def _apps() -> Iterator[dict[str, DashboardApp]]:
    """A server of its own per engine (logging at INFO, to read its structured logs) and the
    app beside it."""
    with ExitStack() as stack:
        apps = {}
        for engine in ENGINES:
            dev = stack.enter_context(contextmanager(serving)(engine, log_level="INFO"))
            app = DashboardApp(dev)
            stack.enter_context(app.receiver)
            apps[engine] = app
        yield apps


def test_cron_routes_offload_to_a_capped_queue_with_a_switch_and_one_request_id() -> None:
    with _apps() as apps:
        for app in apps.values():
            # Given the route's queue, capped, and its cron, whose fires carry a request id
            assert app.api("POST", "/v2/queues").status_code == 400  # no body: named error
            queue = httpx.post(
                f"{app.dev.url}/v2/queues",
                json={"queueName": QUEUE, "parallelism": CAP},
                headers={"Authorization": f"Bearer {app.dev.token}"},
            )
            assert queue.status_code == 200
            schedule = httpx.post(
                f"{app.dev.url}/v2/schedules/{app.receiver.url('/cron')}",
                headers={
                    "Authorization": f"Bearer {app.dev.token}",
                    "Upstash-Cron": "* * * * *",
                    "X-Request-Id": "cron-reports",
                },
            )
            assert schedule.status_code == 201, schedule.text
            app.schedule_id = schedule.json()["scheduleId"]
        # When the cron fires (at the next minute, on both engines at once)
        for app in apps.values():
            eventually(lambda a=app: len(a.work), lambda n: n >= FANOUT, timeout=90)
            # (one fire is the test: the next minute's must not add to the counts)
            assert app.api("DELETE", f"/v2/schedules/{app.schedule_id}").status_code == 200
        for engine, app in apps.items():
            _check_one_fire(engine, app)


def _check_one_fire(engine: str, app: DashboardApp) -> None:
    # Then the fire only enqueued: every work item accepted, under its deterministic key
    (first,) = app.offloads[:1]
    assert [r.status_code for r in first] == [201] * FANOUT, engine
    window = json.loads(app.work[0].body)["window"]
    request_id = f"cron-reports/{window}"
    # And the work ran once each, never more than the cap at a time
    assert sorted(r.path for r in app.work) == [f"/work/{n}" for n in range(FANOUT)]
    assert app.most_in_flight == CAP, engine
    # And the request id reached every delivery, the event log and the structured logs
    assert {r.headers["X-Request-Id"] for r in app.work} == {request_id}
    message_id = first[0].json()["messageId"]
    events = app.api("GET", f"/v2/events?messageId={message_id}").json()["events"]
    assert {e.get("requestId") for e in events} == {request_id}
    assert {e["state"] for e in events} >= {"CREATED", "DELIVERED"}
    eventually(
        lambda: [line for line in app.dev.output if request_id in line and "attempt" in line],
        lambda lines: len(lines) >= FANOUT,
    )
    # When the same fire is handled again (a retried cron delivery): nothing new runs
    again = app.offload(window, request_id)
    assert [r.json().get("deduplicated") for r in again] == [True] * FANOUT
    # When the route's switch is on: the offload is refused by name, and nothing is written
    assert app.api("PUT", f"/v2/kill-switches/queue:{QUEUE}").status_code == 200
    refused = app.offload(window + 1000, "rollback")
    assert {r.status_code for r in refused} == {503}
    assert f"queue:{QUEUE}" in refused[0].json()["error"]
    # And off again, the next window's work is offloaded and runs
    assert app.api("DELETE", f"/v2/kill-switches/queue:{QUEUE}").status_code == 200
    resumed = app.offload(window + 2000, "after-rollback")
    assert {r.status_code for r in resumed} == {201}
    eventually(lambda: len(app.work), lambda n: n >= 2 * FANOUT, timeout=30)
    time.sleep(0.5)
    # The duplicates and the refused ones never ran (nor a second fire, had one slipped in)
    assert len(app.work) == 2 * FANOUT
    assert app.most_in_flight == CAP
    eventually(lambda: app.api("GET", f"/v2/queues/{QUEUE}").json()["lag"], lambda n: n == 0)
