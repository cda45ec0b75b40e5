"""Shared pieces of the property suite: the Hypothesis settings, the "a value or a named 4xx"
check, a timer port that remembers what is armed, and an HTTP transport that sends every
delivery, whatever its host, to the loopback receiver."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import httpx
import pytest
from hypothesis import settings

from functions.domain.clock import to_ms
from functions.domain.errors import DuetimeError
from functions.domain.timers import TimerPayload
from functions.ports import TimerPort
from functions.services.transport import LazyTransport

PROFILE = "duetime-property"
# DUETIME_PROPERTY_SCALE=10 runs ten times as many examples everywhere (a deeper local run).
_SCALE = max(1, int(os.environ.get("DUETIME_PROPERTY_SCALE", "1")))

T = TypeVar("T")

# Retry-delay expressions are parsed with ast.parse, which warns about generated text such as
# "1retried" ("invalid decimal literal") before refusing it; the warning says nothing here.
QUIET_SYNTAX_WARNINGS = pytest.mark.filterwarnings("ignore::SyntaxWarning")


def examples(count: int) -> settings:
    """The suite's profile (registered in conftest.py) with `count` examples."""
    return settings(settings.get_profile(PROFILE), max_examples=count * _SCALE)


def value_or_named_error(
    parse: Callable[[], T],
    *,
    errors: tuple[type[DuetimeError], ...],
    names: str | re.Pattern[str] | tuple[str, ...],
) -> T | DuetimeError:
    """Run `parse`: return its value, or the domain error it raised, after checking that the
    error is one of `errors`, answers a 4xx, and that its message names the field (one of
    `names`, case-insensitively, or a regex). Any other exception propagates: the test fails."""
    error: DuetimeError
    try:
        return parse()
    except errors as raised:
        error = raised
    assert 400 <= error.status_code < 500, (type(error).__name__, error.status_code)
    message = str(error)
    if isinstance(names, re.Pattern):
        assert names.search(message), message
    else:
        wanted = (names,) if isinstance(names, str) else names
        assert any(n.lower() in message.lower() for n in wanted), (wanted, message)
    return error


@dataclass
class RecordingTimers:
    """A timer port that arms the backend's own timers and remembers which wake-ups are armed
    (a disarm forgets one), so a test can ask whether a pending message has a timer."""

    inner: TimerPort
    armed: set[tuple[str, int]] = field(default_factory=set)

    def arm(self, payload: TimerPayload, *, now: datetime) -> None:
        self.inner.arm(payload, now=now)
        self.armed.add((payload.target_id, to_ms(payload.due_at)))

    def disarm(self, target_id: str, due_at: datetime) -> None:
        self.inner.disarm(target_id, due_at)
        self.armed.discard((target_id, to_ms(due_at)))

    def is_armed(self, target_id: str, due_at: datetime) -> bool:
        return (target_id, to_ms(due_at)) in self.armed


class ToLoopback(httpx.BaseTransport):
    """Sends every request to one loopback port, whatever host its URL names: the Host header
    (set from the URL already) and the path and query are kept, so generated destinations are
    delivered for real without any name being resolved or any other address contacted."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = LazyTransport()  # a transport per request in flight, as deployed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
