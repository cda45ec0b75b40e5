"""Drive a message through its attempts with a hand-moved clock (no waiting on backoffs)."""

from __future__ import annotations

import dataclasses

from functions import wiring
from functions.domain.messages import TERMINAL
from functions.domain.timers import TimerPayload
from functions.services.delivery import Dispatcher, Outcome
from tests.helpers.clock import FakeClock


def fake_dispatcher(clock: FakeClock) -> Dispatcher:
    return dataclasses.replace(wiring.graph().dispatcher, clock=clock, sleep=clock.sleep)


def drive(message_id: str, clock: FakeClock, *, max_attempts: int = 30) -> list[Outcome]:
    """Fire each timer of `message_id` at its due time until it is finished."""
    dispatcher = fake_dispatcher(clock)
    outcomes: list[Outcome] = []
    for _ in range(max_attempts):
        message = wiring.graph().message_store.get(message_id)
        if message.state in TERMINAL:
            break
        clock.now = max(clock.now, message.due_at)
        outcomes.append(dispatcher.handle(TimerPayload(message_id, message.due_at)))
    return outcomes
