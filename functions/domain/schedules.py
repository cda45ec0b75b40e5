"""Recurring schedules: what a schedule is, which message each fire becomes, and how the chain
of fires advances. Pure: the store and the timers are elsewhere.

Each fire is delivered as a message whose id is derived from (schedule id, fire time), so a
fire that arrives twice creates one message. After a fire, the next one is computed with
croniter in the schedule's zone (functions/cron.py states the daylight-saving rule) and armed
like any message timer; fires missed during an outage collapse into one catch-up fire.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.domain.clock import to_ms
from functions.domain.cron import CronSpec
from functions.domain.durations import parse_duration
from functions.domain.errors import ValidationError
from functions.domain.publish import Headers, PublishLimits, parse_publish

if TYPE_CHECKING:
    from collections.abc import Mapping

    from functions.domain.messages import Message

_SCHEDULE_ID = re.compile(r"[A-Za-z0-9_.-]{1,48}")


@dataclass(frozen=True)
class Schedule:
    """A recurring schedule and the message template each fire sends."""

    schedule_id: str
    cron: CronSpec
    template: Message
    delay: timedelta | None
    created_at: datetime
    next_fire: datetime | None
    paused: bool = False
    last_fire: datetime | None = None
    last_message_id: str | None = None
    missed_fires: int = 0
    last_missed_at: datetime | None = None
    version: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def new_schedule_id() -> str:
    return "scd_" + secrets.token_hex(12)


def parse_schedule(
    *,
    schedule_id: str | None,
    destination: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    limits: PublishLimits,
    to_group: bool = False,
    caller_ip: str | None = None,
) -> Schedule:
    """Validate `POST /v2/schedules/{destination}`; the template reuses the publish rules.
    With `to_group` the destination is a URL group's name, kept as the template's url and
    its `topicName`: each fire resolves the group's endpoints."""
    h = Headers(headers)
    cron_text = h.get("Upstash-Cron")
    if not cron_text:
        raise ValidationError("Upstash-Cron header is required, e.g. '*/5 * * * *'")
    cron = CronSpec.parse(cron_text)
    if schedule_id is not None and not _SCHEDULE_ID.fullmatch(schedule_id):
        raise ValidationError(
            "Upstash-Schedule-Id must be 1-48 characters of letters, digits, '_', '-' or '.'"
        )
    delay_text = h.get("Upstash-Delay")
    delay = parse_duration(delay_text, field="Upstash-Delay") if delay_text else None
    # The template's own due time is meaningless; each fire sets it.
    template_headers = {k: v for k, v in headers.items() if k.lower() != "upstash-delay"}
    template = parse_publish(
        destination=destination,
        headers=template_headers,
        body=body,
        now=now,
        limits=limits,
        to_group=to_group,
        caller_ip=caller_ip,
    )
    if to_group:
        template = replace(template, options={**template.options, "topicName": destination})
    return Schedule(
        schedule_id=schedule_id or new_schedule_id(),
        cron=cron,
        template=template,
        delay=delay,
        created_at=now,
        next_fire=cron.next_after(now),
    )


def fire_message_id(schedule_id: str, fire_at: datetime) -> str:
    """Deterministic and short (it may name an EventBridge schedule, ≤ 64 characters)."""
    digest = hashlib.sha256(f"{schedule_id}/{to_ms(fire_at)}".encode()).digest()
    return "msg_" + base64.b32encode(digest).decode().lower()[:26]


def fire_message(schedule: Schedule, fire_at: datetime, *, now: datetime) -> Message:
    """The message one fire delivers (due at the fire time, plus the schedule's delay)."""
    return replace(
        schedule.template,
        message_id=fire_message_id(schedule.schedule_id, fire_at),
        due_at=fire_at + (schedule.delay or timedelta(0)),
        created_at=now,
        schedule_id=schedule.schedule_id,
    )


@dataclass(frozen=True)
class Advance:
    next_fire: datetime
    missed: int


def advance(schedule: Schedule, fired_at: datetime, *, now: datetime) -> Advance:
    """The fire after `fired_at`. Fires that fell between it and now were missed (an outage):
    they are counted, not sent, and the chain resumes at the next fire after now."""
    following = schedule.cron.next_after(fired_at)
    if following > now:
        return Advance(following, 0)
    missed = schedule.cron.fires_between(fired_at, now)
    return Advance(schedule.cron.next_after(now), len(missed))
