"""A typed client for duetime's own API, sync (`Duetime`) and async (`AsyncDuetime`).

    from duetime.client import Duetime, MessageFilter

    with Duetime("http://127.0.0.1:8080", token) as client:
        print(client.stats(window="24h").success_rate)
        client.kill_switch_on("flows:onboarding", reason="incident 42")

Failures raise typed exceptions (`UnauthorizedError`, `NotFoundError`, `ConflictError`,
`BadRequestError`, `ServerError`, `UnreachableError`), all `DuetimeError`s carrying the
server's message."""

from duetime.client.aio import AsyncDuetime
from duetime.client.errors import (
    BadRequestError,
    ConflictError,
    DuetimeError,
    NotFoundError,
    ServerError,
    UnauthorizedError,
    UnreachableError,
)
from duetime.client.filters import DlqFilter, MessageFilter
from duetime.client.models import (
    Clock,
    DlqMessage,
    Flow,
    FlowLog,
    FlowStep,
    KillSwitch,
    Message,
    Schedule,
    SigningKeys,
    Stats,
    StepResult,
    Travelled,
)
from duetime.client.sync import Duetime

__all__ = [
    "AsyncDuetime",
    "BadRequestError",
    "Clock",
    "ConflictError",
    "DlqFilter",
    "DlqMessage",
    "Duetime",
    "DuetimeError",
    "Flow",
    "FlowLog",
    "FlowStep",
    "KillSwitch",
    "Message",
    "MessageFilter",
    "NotFoundError",
    "Schedule",
    "ServerError",
    "SigningKeys",
    "Stats",
    "StepResult",
    "Travelled",
    "UnauthorizedError",
    "UnreachableError",
]
