"""`Graph.warm`: what a long-lived server (`duetime dev`) loads at start, where a Lambda
function waits for first use (tests/unit/test_transport.py checks that side)."""

from __future__ import annotations

import json
import subprocess
import sys

# A fresh interpreter: this one has imported everything long ago.
SNIPPET = """
import json, sys
from functions import wiring
from functions.adapters.sqlite import LocalTimers, open_database, sqlite_adapters
from functions.config import Settings
from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from functions.services.transport import LazyTransport

def loaded():
    return sorted(m for m in ("jwt", "standardwebhooks", "croniter", "httpx") if m in sys.modules)

timers = LocalTimers(workers=1)
adapters = sqlite_adapters(open_database(None), timers=timers, keys=DEV_SIGNING_KEYS,
                           tokens=(DEV_TOKEN,))
client = LazyTransport()
graph = wiring.build(Settings(dev_mode=True), adapters, http=client)
before = {"modules": loaded(), "services": sorted(vars(graph))}
graph.warm()
client.warm()
after = {"modules": loaded(), "services": sorted(vars(graph))}
timers.stop()
print(json.dumps({"before": before, "after": after}))
"""

SERVICES = {
    "dead_letters",
    "dispatcher",
    "event_log",
    "flow_runner",
    "kill_switches",
    "message_service",
    "queue_service",
    "recovery",
    "schedule_service",
    "stats",
    "topic_service",
}


def test_warm_builds_every_service_and_loads_what_first_use_would() -> None:
    ran = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(ran.stdout.splitlines()[-1])
    # Before: nothing built, nothing of first use loaded
    assert found["before"]["modules"] == []
    assert SERVICES.isdisjoint(found["before"]["services"])
    # After: every service built, and the signers', cron's and the transport's libraries in
    assert found["after"]["modules"] == ["croniter", "httpx", "jwt", "standardwebhooks"]
    assert set(found["after"]["services"]) >= SERVICES
