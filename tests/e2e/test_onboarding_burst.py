"""Job 1 of shared/SCENARIOS.md against `duetime dev`: the onboarding burst, timed for real."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import httpx
import pytest
import standardwebhooks

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Receiver
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def _api(dev: DevProcess) -> httpx.Client:
    return httpx.Client(base_url=dev.url, headers={"Authorization": f"Bearer {dev.token}"})


def _burst(url: str, session: str) -> dict[str, Any]:
    key = f"onboarding:profile-7:{session}"
    steps = [
        {"id": "onboarding_message_1", "delay": "0s"},
        {"id": "onboarding_message_2", "delay": "8s"},
        {"id": "onboarding_message_3", "delay": "8s", "setStateToken": "onboarding:burst_sent"},
        {"id": "onboarding_message_4", "delay": "0s", "expectStateToken": "onboarding:burst_sent"},
    ]
    return {
        "stateToken": "onboarding:awaiting_burst",
        "steps": [
            {
                **step,
                "destination": url,
                "body": {"sms": step["id"]},
                "idempotencyKey": f"{key}:{step['id']}",
            }
            for step in steps
        ],
    }


def test_onboarding_burst_keeps_its_gaps_and_is_signed(dev: DevProcess, receiver: Receiver) -> None:
    with _api(dev) as api:
        # Given the user answered: activation starts the sequence (only step 1 is armed)
        started = api.post("/v2/flows/session-42", json=_burst(receiver.url("/sms"), "session-42"))
        assert started.status_code == 201
        assert [s["status"] for s in started.json()["steps"]][1:] == ["PENDING"] * 3
        # When the burst runs, then the receiver gets 4 texts, 8 s, 8 s and 0 s apart
        requests = receiver.wait_for(4, timeout=30)
        arrivals = [r.at for r in requests]
        gaps = [b - a for a, b in pairwise(arrivals)]
        assert [json.loads(r.body)["sms"] for r in requests] == [
            f"onboarding_message_{n}" for n in range(1, 5)
        ]
        assert gaps[0] == pytest.approx(8.0, abs=0.5)
        assert gaps[1] == pytest.approx(8.0, abs=0.5)
        assert 0 <= gaps[2] <= 1.0
        for request in requests:
            standardwebhooks.Webhook(dev.webhook_secret).verify(request.body, dict(request.headers))
        # And the flow's ledger and log show it, in time order
        flow = eventually(
            lambda: api.get("/v2/flows/session-42").json(),
            lambda f: f["status"] != "RUNNING",
        )
        assert flow["status"] == "COMPLETED"
        assert flow["stateToken"] == "onboarding:burst_sent"
        log = api.get("/v2/flows/session-42/log").json()["events"]
        sent = [e for e in log if e["event"] == "SENT"]
        assert [e["stepId"] for e in sent] == [f"onboarding_message_{n}" for n in range(1, 5)]
        # And replays never send twice
        replay = api.post("/v2/flows/session-42/steps/onboarding_message_2/run")
        assert replay.json() == {"ok": True, "skipped": True, "reason": "already_sent"}
    assert len(receiver.wait_for(5, timeout=0.5)) == 4
