"""JSON shapes of the QStash v2 API, as the official SDKs parse them."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from functions.domain.clock import to_ms
from functions.domain.flows import FlowState, LedgerEvent, StepState
from functions.domain.messages import Event, Message, MessageState
from functions.domain.redaction import Redaction, masked

if TYPE_CHECKING:
    from functions.domain.schedules import Schedule


def _body(message: Message) -> dict[str, str]:
    """`body` when the bytes are UTF-8, else `bodyBase64`; its hash when it is redacted."""
    if _redaction(message).body:
        return {"body": masked(message.body)}
    try:
        return {"body": message.body.decode()}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(message.body).decode()}


def _redaction(message: Message) -> Redaction:
    return Redaction.from_document(message.options.get("redact"))


def _headers(message: Message) -> dict[str, list[str]]:
    redaction = _redaction(message)
    return {name: [redaction.header_value(name, value)] for name, value in message.headers.items()}


def message_view(message: Message) -> dict[str, Any]:
    view: dict[str, Any] = {
        "messageId": message.message_id,
        "url": message.url,
        "method": message.method,
        "header": _headers(message),
        "maxRetries": message.max_retries,
        "notBefore": to_ms(message.due_at),
        "createdAt": to_ms(message.created_at),
        "state": message.state.value,
        "retried": message.retried,
        **_body(message),
    }
    optional = {
        "callback": message.callback,
        "failureCallback": message.failure_callback,
        "scheduleId": message.schedule_id,
        "retryDelayExpression": message.retry_delay,
        "label": message.label,
        "topicName": message.options.get("topicName"),
        "endpointName": message.options.get("endpointName"),
        "queueName": message.options.get("queueName"),
        "callerIP": message.options.get("callerIP"),
        "flowControlKey": message.options.get("flowControlKey"),
        **message.options.get("flowControl", {}),  # parallelism, rate, period
        "requestId": message.options.get("requestId"),
        "traceparent": message.options.get("traceparent"),
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    return view


def event_view(message: Message, event: Event) -> dict[str, Any]:
    view: dict[str, Any] = {
        "time": to_ms(event.at),
        "state": event.state.value,
        "messageId": message.message_id,
        "url": message.url,
        "retried": event.attempt,
        "maxRetries": message.max_retries,
        "method": message.method,
    }
    optional = {
        "responseStatus": event.response_status,
        "responseHeader": (
            {k: [v] for k, v in event.response_headers.items()} if event.response_headers else None
        ),
        "responseBody": event.response_body,
        "error": event.error,
        "nextDeliveryTime": to_ms(event.next_delivery_at) if event.next_delivery_at else None,
        "scheduleId": message.schedule_id,
        "label": message.label,
        "topicName": message.options.get("topicName"),
        "endpointName": message.options.get("endpointName"),
        "queueName": message.options.get("queueName"),
        "retryDelayExpr": message.retry_delay,  # the name QStash's event log uses
        "requestId": message.options.get("requestId"),
        "traceparent": message.options.get("traceparent"),
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    return view


def dlq_view(message: Message) -> dict[str, Any]:
    """A failed message as `GET /v2/dlq` shows it: the message plus its last response."""
    view = message_view(message)
    view["dlqId"] = message.message_id
    last = message.events[-1] if message.events else None
    view["responseStatus"] = last.response_status if last and last.response_status else 0
    if last and last.response_headers:
        view["responseHeader"] = {k: [v] for k, v in last.response_headers.items()}
    if last and last.response_body:
        view["responseBody"] = last.response_body
    if last and last.error:
        view["error"] = last.error
    return view


def schedule_view(schedule: Schedule, *, last_message: Message | None) -> dict[str, Any]:
    """A schedule as `GET /v2/schedules/{id}` shows it, with duetime's missed-fire state."""
    t = schedule.template
    view: dict[str, Any] = {
        "scheduleId": schedule.schedule_id,
        "cron": str(schedule.cron),
        "destination": t.url,
        "method": t.method,
        "header": _headers(t),
        "retries": t.max_retries,
        "createdAt": to_ms(schedule.created_at),
        "isPaused": schedule.paused,
        "missedFires": schedule.missed_fires,
        **_body(t),
    }
    optional = {
        "callback": t.callback,
        "failureCallback": t.failure_callback,
        "delay": int(schedule.delay.total_seconds()) if schedule.delay else None,
        "timeout": t.timeout_seconds,
        "retryDelayExpression": t.retry_delay,
        "label": t.label,
        "queueName": t.options.get("queueName"),
        "callerIP": t.options.get("callerIP"),
        "lastScheduleTime": to_ms(schedule.last_fire) if schedule.last_fire else None,
        "nextScheduleTime": to_ms(schedule.next_fire) if schedule.next_fire else None,
        "lastMissedAt": to_ms(schedule.last_missed_at) if schedule.last_missed_at else None,
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    if last_message is not None:
        view["lastScheduleStates"] = {last_message.message_id: _fire_state(last_message)}
    return view


def _fire_state(message: Message) -> str:
    """QStash's schedule states: IN_PROGRESS, SUCCESS or FAIL."""
    if message.state is MessageState.DELIVERED:
        return "SUCCESS"
    if message.state in {MessageState.FAILED, MessageState.CANCELED}:
        return "FAIL"
    return "IN_PROGRESS"


def flow_view(flow: FlowState) -> dict[str, Any]:
    """A flow and its ledger: each step armed / in flight / sent / skipped (why) / failed."""
    steps: list[dict[str, Any]] = []
    for step in flow.steps:
        view: dict[str, Any] = {
            "id": step.step_id,
            "status": step.status.value,
            "attempts": step.attempts,
            "run": step.run,
            # The gap the definition asks for after the step before (`duetime flows timing`).
            "delaySeconds": flow.definition.steps[step.index].delay.total_seconds(),
        }
        optional = {
            "reason": step.reason,
            "armedAt": to_ms(step.armed_at) if step.armed_at else None,
            "dueAt": to_ms(step.due_at) if step.due_at else None,
            "sentAt": to_ms(step.sent_at) if step.sent_at else None,
            "lastStatus": step.last_status,
            "lastError": step.last_error,
            "idempotencyKey": flow.definition.steps[step.index].idempotency_key,
            "sentBy": _sent_by(step),
        }
        view.update({k: v for k, v in optional.items() if v is not None})
        steps.append(view)
    body: dict[str, Any] = {
        "flowId": flow.flow_id,
        "stateToken": flow.state_token,
        "status": flow.status.value,
        "run": flow.run,
        "createdAt": to_ms(flow.created_at),
        "steps": steps,
    }
    if flow.reason:
        body["reason"] = flow.reason
    return body


def _sent_by(step: StepState) -> Any:
    """For a step skipped as already sent: the flow and step that sent its key."""
    if step.reason != "already_sent":
        return None
    for event in reversed(step.events):
        if event.detail and "sentBy" in event.detail:
            return event.detail["sentBy"]
    return None


def _ledger_view(event: LedgerEvent) -> dict[str, Any]:
    view: dict[str, Any] = {"time": to_ms(event.at), "event": event.kind}
    if event.step_id:
        view["stepId"] = event.step_id
    view.update({k: v for k, v in (event.detail or {}).items() if v is not None})
    return view


def flow_log_view(flow: FlowState) -> dict[str, Any]:
    """Every event of the flow and its steps, in time order (for checking the gaps)."""
    events = list(flow.events)
    for step in flow.steps:
        events.extend(
            LedgerEvent(e.at, e.kind, e.step_id or step.step_id, e.detail) for e in step.events
        )
    events.sort(key=lambda e: e.at)
    return {"flowId": flow.flow_id, "events": [_ledger_view(e) for e in events]}
