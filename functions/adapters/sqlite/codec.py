"""Records to and from the JSON documents the embedded engine stores. Times are unix
microseconds (exact for an aware UTC datetime), bodies base64."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.domain.cron import CronSpec
from functions.domain.flows import LedgerEvent
from functions.domain.messages import Event, EventState, Message, MessageState
from functions.domain.schedules import Schedule

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def opt_us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def opt_dt(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


def list_key(at: datetime, item_id: str) -> str:
    """Fixed-width UTC time then id: sorts by time, and is the position a cursor wraps."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}#{item_id}"


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def event_doc(event: Event) -> dict[str, Any]:
    return {
        "state": event.state.value,
        "at": to_us(event.at),
        "attempt": event.attempt,
        "status": event.response_status,
        "headers": event.response_headers,
        "body": event.response_body,
        "error": event.error,
        "next": opt_us(event.next_delivery_at),
    }


def event_from(doc: dict[str, Any]) -> Event:
    return Event(
        state=EventState(doc["state"]),
        at=from_us(doc["at"]),
        attempt=doc["attempt"],
        response_status=doc["status"],
        response_headers=doc["headers"],
        response_body=doc["body"],
        error=doc["error"],
        next_delivery_at=opt_dt(doc["next"]),
    )


def message_doc(message: Message) -> str:
    return dumps(
        {
            "id": message.message_id,
            "url": message.url,
            "method": message.method,
            "headers": message.headers,
            "body": base64.b64encode(message.body).decode(),
            "due": to_us(message.due_at),
            "created": to_us(message.created_at),
            "state": message.state.value,
            "maxRetries": message.max_retries,
            "retryDelay": message.retry_delay,
            "timeout": message.timeout_seconds,
            "callback": message.callback,
            "failureCallback": message.failure_callback,
            "scheduleId": message.schedule_id,
            "label": message.label,
            "retried": message.retried,
            "leaseToken": message.lease_token,
            "leaseUntil": opt_us(message.lease_until),
            "events": [event_doc(e) for e in message.events],
            "options": message.options,
        }
    )


def message_from(text: str) -> Message:
    doc = json.loads(text)
    return Message(
        message_id=doc["id"],
        url=doc["url"],
        method=doc["method"],
        headers=doc["headers"],
        body=base64.b64decode(doc["body"]),
        due_at=from_us(doc["due"]),
        created_at=from_us(doc["created"]),
        state=MessageState(doc["state"]),
        max_retries=doc["maxRetries"],
        retry_delay=doc["retryDelay"],
        timeout_seconds=doc["timeout"],
        callback=doc["callback"],
        failure_callback=doc["failureCallback"],
        schedule_id=doc["scheduleId"],
        label=doc["label"],
        retried=doc["retried"],
        lease_token=doc["leaseToken"],
        lease_until=opt_dt(doc["leaseUntil"]),
        events=tuple(event_from(e) for e in doc["events"]),
        options=doc["options"],
    )


def schedule_doc(schedule: Schedule) -> str:
    return dumps(
        {
            "id": schedule.schedule_id,
            "cron": str(schedule.cron),
            "template": message_doc(schedule.template),
            "delay": schedule.delay.total_seconds() if schedule.delay else None,
            "created": to_us(schedule.created_at),
            "nextFire": opt_us(schedule.next_fire),
            "paused": schedule.paused,
            "lastFire": opt_us(schedule.last_fire),
            "lastMessageId": schedule.last_message_id,
            "missed": schedule.missed_fires,
            "lastMissedAt": opt_us(schedule.last_missed_at),
            "version": schedule.version,
            "extra": schedule.extra,
        }
    )


def schedule_from(text: str) -> Schedule:
    doc = json.loads(text)
    return Schedule(
        schedule_id=doc["id"],
        cron=CronSpec.parse(doc["cron"]),
        template=message_from(doc["template"]),
        delay=timedelta(seconds=doc["delay"]) if doc["delay"] else None,
        created_at=from_us(doc["created"]),
        next_fire=opt_dt(doc["nextFire"]),
        paused=doc["paused"],
        last_fire=opt_dt(doc["lastFire"]),
        last_message_id=doc["lastMessageId"],
        missed_fires=doc["missed"],
        last_missed_at=opt_dt(doc["lastMissedAt"]),
        version=doc["version"],
        extra=doc["extra"],
    )


def ledger_doc(event: LedgerEvent) -> dict[str, Any]:
    return {
        "at": to_us(event.at),
        "kind": event.kind,
        "step": event.step_id,
        "detail": event.detail,
    }


def ledger_from(doc: dict[str, Any]) -> LedgerEvent:
    return LedgerEvent(from_us(doc["at"]), doc["kind"], doc["step"], doc["detail"])
