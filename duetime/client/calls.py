"""Each API call as data (method, path, query, body, and how to read the answer), so the sync
and the async client send exactly the same requests and differ only in how they wait."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from duetime.client import models

T = TypeVar("T")
Query = list[tuple[str, str]]
# A filter's values: one, or several of which any may match. None leaves it out.
FilterValue = str | int | Sequence[str | int] | None


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Any], T]
    params: Query = field(default_factory=list)
    json: Any = None


def _segment(value: str) -> str:
    """One path segment: a kill-switch scope holds slashes, an id may hold anything."""
    return quote(value, safe="")


def filters(given: Mapping[str, FilterValue]) -> Query:
    """Query pairs, repeated for a filter with several values (what the API reads as "any")."""
    pairs: Query = []
    for name, value in given.items():
        if value is None:
            continue
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        pairs += [(name, str(v)) for v in values]
    return pairs


def _model(kind: type[T]) -> Callable[[Any], T]:
    adapter = TypeAdapter(kind)
    return adapter.validate_python


def _field(name: str, kind: type[T]) -> Callable[[Any], T]:
    adapter = TypeAdapter(kind)
    return lambda body: adapter.validate_python(body[name])


def stats(window: str | None) -> Call[models.Stats]:
    return Call("GET", "/v2/stats", _model(models.Stats), filters({"window": window}))


def messages(query: Query) -> Call[models.MessagePage]:
    return Call("GET", "/v2/messages", _model(models.MessagePage), query)


def message(message_id: str) -> Call[models.Message]:
    return Call("GET", f"/v2/messages/{_segment(message_id)}", _model(models.Message))


def cancel_message(message_id: str) -> Call[bool]:
    return Call(
        "DELETE", f"/v2/messages/{_segment(message_id)}", lambda b: bool(b.get("cancelled"))
    )


def cancel_messages(body: dict[str, Any] | None) -> Call[int]:
    return Call("DELETE", "/v2/messages", _field("cancelled", int), json=body)


def dlq(query: Query) -> Call[models.DlqPage]:
    return Call("GET", "/v2/dlq", _model(models.DlqPage), query)


def dlq_message(dlq_id: str) -> Call[models.DlqMessage]:
    return Call("GET", f"/v2/dlq/{_segment(dlq_id)}", _model(models.DlqMessage))


def retry_dlq(dlq_id: str) -> Call[str]:
    return Call("POST", f"/v2/dlq/retry/{_segment(dlq_id)}", _field("messageId", str))


def delete_dlq(dlq_id: str) -> Call[int]:
    return Call("DELETE", f"/v2/dlq/{_segment(dlq_id)}", _field("deleted", int))


def _retried(body: Any) -> tuple[list[str], str | None]:
    return [str(r["messageId"]) for r in body["responses"]], body.get("cursor")


def _deleted(body: Any) -> tuple[int, str | None]:
    return int(body["deleted"]), body.get("cursor")


def retry_dlq_many(body: dict[str, Any] | None) -> Call[tuple[list[str], str | None]]:
    return Call("POST", "/v2/dlq/retry", _retried, json=body)


def delete_dlq_many(body: dict[str, Any] | None) -> Call[tuple[int, str | None]]:
    return Call("DELETE", "/v2/dlq", _deleted, json=body)


def schedules() -> Call[list[models.Schedule]]:
    return Call("GET", "/v2/schedules", _model(list[models.Schedule]))


def schedule(schedule_id: str) -> Call[models.Schedule]:
    return Call("GET", f"/v2/schedules/{_segment(schedule_id)}", _model(models.Schedule))


def pause_schedule(schedule_id: str, *, paused: bool) -> Call[None]:
    action = "pause" if paused else "resume"
    return Call("PATCH", f"/v2/schedules/{_segment(schedule_id)}/{action}", lambda _: None)


def delete_schedule(schedule_id: str) -> Call[None]:
    return Call("DELETE", f"/v2/schedules/{_segment(schedule_id)}", lambda _: None)


def start_flow(flow_id: str, definition: dict[str, Any]) -> Call[models.Flow]:
    return Call("POST", f"/v2/flows/{_segment(flow_id)}", _model(models.Flow), json=definition)


def flow(flow_id: str) -> Call[models.Flow]:
    return Call("GET", f"/v2/flows/{_segment(flow_id)}", _model(models.Flow))


def flow_log(flow_id: str) -> Call[models.FlowLog]:
    return Call("GET", f"/v2/flows/{_segment(flow_id)}/log", _model(models.FlowLog))


def replay_step(flow_id: str, step_id: str) -> Call[models.StepResult]:
    path = f"/v2/flows/{_segment(flow_id)}/steps/{_segment(step_id)}/run"
    return Call("POST", path, _model(models.StepResult))


def set_flow_state(flow_id: str, token: str, expect: str | None) -> Call[models.Flow]:
    body: dict[str, Any] = {"stateToken": token}
    if expect is not None:
        body["expectStateToken"] = expect
    return Call("PUT", f"/v2/flows/{_segment(flow_id)}/state", _model(models.Flow), json=body)


def cancel_flow(flow_id: str) -> Call[models.Flow]:
    return Call("DELETE", f"/v2/flows/{_segment(flow_id)}", _model(models.Flow))


def kill_switches() -> Call[list[models.KillSwitch]]:
    return Call("GET", "/v2/kill-switches", _field("killSwitches", list[models.KillSwitch]))


def kill_switch(scope: str, *, on: bool, reason: str | None) -> Call[list[models.KillSwitch]]:
    path = f"/v2/kill-switches/{_segment(scope)}"
    read = _field("killSwitches", list[models.KillSwitch])
    if on:
        return Call("PUT", path, read, json={"reason": reason})
    return Call("DELETE", path, read)


def signing_keys() -> Call[models.SigningKeys]:
    return Call("GET", "/v2/keys", _model(models.SigningKeys))


def rotate_keys() -> Call[models.SigningKeys]:
    return Call("POST", "/v2/keys/rotate", _model(models.SigningKeys))


def clock() -> Call[models.Clock]:
    return Call("GET", "/v2/dev/clock", _model(models.Clock))


def move_clock(*, advance: str | None = None, to: datetime | None = None) -> Call[models.Travelled]:
    if to is not None:
        if to.tzinfo is None or to.utcoffset() is None:
            raise ValueError("set the clock with a timezone-aware time: a naive one is ambiguous")
        body: dict[str, Any] = {"set": to.isoformat()}
    else:
        body = {"advance": advance}
    return Call("POST", "/v2/dev/clock", _model(models.Travelled), json=body)
