"""Kill-switch rules: which scopes exist and which switch blocks new work. Pure."""

from __future__ import annotations

import re

from functions.domain.errors import DuetimeError, ValidationError

ALL = "all"
_FLOWS = re.compile(r"flows:[A-Za-z0-9_.:-]{0,128}")
# A route's rollback switch: new messages to URLs with this prefix, and fires of schedules
# that send there, are refused while it is on.
_URL = re.compile(r"url:https?://[^\s]{1,2048}")
_SCHEDULE = re.compile(r"schedule:[A-Za-z0-9_.:-]{1,128}")
# A queue's: nothing new is enqueued to it, and schedules that enqueue to it fire nothing.
_QUEUE = re.compile(r"queue:[A-Za-z0-9_.-]{1,128}")
SCOPES = "'all', 'flows:<id prefix>', 'url:<URL prefix>', 'schedule:<id>' or 'queue:<name>'"


class SwitchedOffError(DuetimeError):
    """503: a kill switch forbids arming new work."""

    status_code = 503


def validate_scope(scope: str) -> str:
    if scope == ALL or any(p.fullmatch(scope) for p in (_FLOWS, _URL, _SCHEDULE, _QUEUE)):
        return scope
    raise ValidationError(f"kill switch scope must be {SCOPES}, got {scope[:200]!r}")


def blocking(
    scopes: frozenset[str],
    *,
    flow_id: str | None = None,
    url: str | None = None,
    schedule_id: str | None = None,
    queue: str | None = None,
) -> str | None:
    """The switch that blocks new work (for the flow, destination URL, schedule or queue
    given), if any is on."""
    if ALL in scopes:
        return ALL
    for scope in sorted(scopes):
        kind, _, value = scope.partition(":")
        if (
            (kind == "flows" and flow_id is not None and flow_id.startswith(value))
            or (kind == "url" and url is not None and url.startswith(value))
            or (kind == "schedule" and schedule_id is not None and schedule_id == value)
            or (kind == "queue" and queue is not None and queue == value)
        ):
            return scope
    return None
