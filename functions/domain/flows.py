"""Multi-step flows: one step per invocation, each guarded by the flow's state token and the
step's idempotency key. Pure: definitions, validation and statuses; no I/O.

A flow's run:
    start ──arms──▶ step 1 ──sent, token advanced, arms──▶ step 2 … ──▶ COMPLETED
A step whose expected token no longer matches (the app moved the session on) sends nothing and
halts the flow (`stale_state`); a step whose idempotency key was already used sends nothing
(`already_sent`) but still lets the chain advance; a kill switch stops the next arming
(`disabled`). Halted flows resume from their first unsent step when started again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from functions.domain.durations import parse_duration
from functions.domain.errors import PayloadTooLargeError, ValidationError
from functions.domain.forwarding import check_forwarded
from functions.domain.limits import MAX_URL_BYTES, check_bytes, check_headers, headers_size
from functions.domain.publish import MAX_RETRIES, METHODS, Headers, require_http_url
from functions.domain.retry import validate_retry_delay

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MAX_STEPS = 50
MAX_IDEMPOTENCY_KEY_BYTES = 512
MAX_DEFINITION_BYTES = 256 * 1024


class FlowStatus(StrEnum):
    RUNNING = "RUNNING"
    HALTED = "HALTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class StepStatus(StrEnum):
    PENDING = "PENDING"
    ARMED = "ARMED"
    IN_FLIGHT = "IN_FLIGHT"
    RETRY = "RETRY"
    SENT = "SENT"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class SkipReason(StrEnum):
    ALREADY_SENT = "already_sent"
    STALE_STATE = "stale_state"
    DISABLED = "disabled"
    IN_FLIGHT = "in_flight"
    NOT_RUNNING = "not_running"


@dataclass(frozen=True)
class StepDefinition:
    step_id: str
    destination: str
    method: str
    headers: dict[str, str]
    body: bytes
    delay: timedelta
    expect_state_token: str
    set_state_token: str | None
    retries: int
    idempotency_key: str
    # Upstash-Retry-Delay's expression (ms over `retried`); None is QStash's backoff.
    retry_delay: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.step_id,
            "destination": self.destination,
            "method": self.method,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
            "delaySeconds": self.delay.total_seconds(),
            "expectStateToken": self.expect_state_token,
            "setStateToken": self.set_state_token,
            "retries": self.retries,
            "idempotencyKey": self.idempotency_key,
            "retryDelay": self.retry_delay,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepDefinition:
        return cls(
            step_id=data["id"],
            destination=data["destination"],
            method=data["method"],
            headers=dict(data["headers"]),
            body=str(data["body"]).encode(),
            delay=timedelta(seconds=float(data["delaySeconds"])),
            expect_state_token=data["expectStateToken"],
            set_state_token=data.get("setStateToken"),
            retries=int(data["retries"]),
            idempotency_key=data["idempotencyKey"],
            retry_delay=data.get("retryDelay"),
        )


@dataclass(frozen=True)
class FlowDefinition:
    flow_id: str
    state_token: str
    steps: tuple[StepDefinition, ...]

    def index_of(self, step_id: str) -> int:
        for index, step in enumerate(self.steps):
            if step.step_id == step_id:
                return index
        raise KeyError(step_id)


def _text(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValidationError(f"{where}.{key} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where}.{key} must be a non-empty string")
    return _unicode(value, f"{where}.{key}")


def _unicode(value: str, what: str) -> str:
    """JSON may escape a lone surrogate (`"\\ud800"`), which no UTF-8 store or request can
    carry: before this check it raised UnicodeEncodeError, a 500 (tests/property found it)."""
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not valid Unicode (a lone surrogate at position {exc.start})"
        ) from exc
    return value


def check_id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise ValidationError(
            f"{what} must be 1-128 characters of letters, digits, '_', '-', '.' or ':'"
        )
    return value


def _stored_bytes(step: StepDefinition) -> int:
    return len(step.destination.encode()) + headers_size(step.headers) + len(step.body)


def parse_flow(
    flow_id: str, body: dict[str, Any] | None, *, default_retries: int
) -> FlowDefinition:
    """Validate `POST /v2/flows/{flowId}`; every error names the field."""
    check_id(flow_id, "flowId")
    if body is None:
        raise ValidationError("body must be a JSON object with stateToken and steps")
    token = str(_text(body, "stateToken", "body"))
    raw_steps = body.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ValidationError("body.steps must be a non-empty array")
    if len(raw_steps) > MAX_STEPS:
        raise ValidationError(f"body.steps holds {len(raw_steps)} steps; at most {MAX_STEPS}")
    steps = tuple(
        _parse_step(raw, f"steps[{n}]", flow_id, token, default_retries)
        for n, raw in enumerate(raw_steps)
    )
    ids = [s.step_id for s in steps]
    if len(set(ids)) != len(ids):
        raise ValidationError("step ids must be unique within a flow")
    size = sum(_stored_bytes(s) for s in steps)
    if size > MAX_DEFINITION_BYTES:
        # One storage item holds the whole definition (DynamoDB: 400 KB).
        raise PayloadTooLargeError(
            f"the steps' destinations, headers and bodies are {size} bytes; "
            f"at most {MAX_DEFINITION_BYTES} in one flow"
        )
    return FlowDefinition(flow_id=flow_id, state_token=token, steps=steps)


def _parse_step(
    raw: Any, where: str, flow_id: str, flow_token: str, default_retries: int
) -> StepDefinition:
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be a JSON object")
    step_id = check_id(str(_text(raw, "id", where)), f"{where}.id")
    destination = str(_text(raw, "destination", where))
    check_bytes(destination, field=f"{where}.destination", limit=MAX_URL_BYTES)
    require_http_url(destination, f"{where}.destination")
    method = str(raw.get("method") or "POST").upper()
    if method not in METHODS:
        raise ValidationError(f"{where}.method must be one of {', '.join(sorted(METHODS))}")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValidationError(f"{where}.headers must be an object of strings")
    for name, value in headers.items():
        _unicode(name, f"{where}.headers")
        _unicode(value, f"{where}.headers.{name}")
    headers = check_forwarded(headers, field=f"{where}.headers.")
    check_headers(headers, field=f"{where}.headers")
    body = raw.get("body")
    if isinstance(body, str):
        _unicode(body, f"{where}.body")
    # A string is sent as is; anything else as JSON.
    payload = (
        b""
        if body is None
        else body.encode()
        if isinstance(body, str)
        else json.dumps(body).encode()
    )
    if body is not None and not isinstance(body, str) and not Headers(headers).get("content-type"):
        headers = {**headers, "content-type": "application/json"}
    delay_text = raw.get("delay")
    delay = (
        parse_duration(str(delay_text), field=f"{where}.delay")
        if delay_text not in (None, "")
        else timedelta(0)
    )
    retries = raw.get("retries", default_retries)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= MAX_RETRIES:
        raise ValidationError(f"{where}.retries must be an integer 0..{MAX_RETRIES}")
    return StepDefinition(
        step_id=step_id,
        destination=destination,
        method=method,
        headers={k.lower(): v for k, v in headers.items()},
        body=payload,
        delay=delay,
        expect_state_token=_text(raw, "expectStateToken", where, required=False) or flow_token,
        set_state_token=_text(raw, "setStateToken", where, required=False),
        retries=retries,
        idempotency_key=_idempotency_key(raw, where) or f"{flow_id}:{step_id}",
        retry_delay=_retry_delay(raw, where),
    )


def _idempotency_key(raw: dict[str, Any], where: str) -> str | None:
    """A caller's key, bounded: it is a storage key (DynamoDB allows 2,048 bytes)."""
    key = _text(raw, "idempotencyKey", where, required=False)
    if key is not None and len(key.encode()) > MAX_IDEMPOTENCY_KEY_BYTES:
        raise ValidationError(
            f"{where}.idempotencyKey is {len(key.encode())} bytes; at most "
            f"{MAX_IDEMPOTENCY_KEY_BYTES}"
        )
    return key


def _retry_delay(raw: dict[str, Any], where: str) -> str | None:
    expression = _text(raw, "retryDelay", where, required=False)
    if expression is None:
        return None
    return validate_retry_delay(expression, field=f"{where}.retryDelay")


@dataclass(frozen=True)
class LedgerEvent:
    at: datetime
    kind: str
    step_id: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class StepState:
    index: int
    step_id: str
    run: int
    status: StepStatus
    reason: str | None
    due_at: datetime | None
    armed_at: datetime | None
    sent_at: datetime | None
    attempts: int
    last_status: int | None
    last_error: str | None
    events: tuple[LedgerEvent, ...]


@dataclass(frozen=True)
class FlowState:
    definition: FlowDefinition
    state_token: str
    status: FlowStatus
    reason: str | None
    run: int
    advanced_through: int
    created_at: datetime
    steps: tuple[StepState, ...]
    events: tuple[LedgerEvent, ...]

    @property
    def flow_id(self) -> str:
        return self.definition.flow_id

    def first_unsent(self) -> int | None:
        """Where a halted flow resumes: the first step not yet sent."""
        for step in self.steps:
            if step.status is not StepStatus.SENT:
                return step.index
        return None
