"""What the schedules API and a schedule's timer do, without HTTP or Lambda."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from functions.domain.clock import Clock
from functions.domain.publish import PublishLimits
from functions.domain.retry import validate_retry_delay
from functions.domain.schedules import Schedule, advance, fire_message, parse_schedule
from functions.domain.timers import EARLY_TOLERANCE, SCHEDULE, TimerPayload
from functions.domain.views import schedule_view
from functions.ports import MessageStore, ScheduleStore, TimerPort
from functions.services.delivery import Outcome
from functions.services.killswitches import KillSwitches


@dataclass
class ScheduleService:
    store: ScheduleStore
    messages: MessageStore
    timers: TimerPort
    clock: Clock
    limits: PublishLimits
    deliver: Callable[[TimerPayload], Outcome]
    switches: KillSwitches | None = None

    def upsert(
        self,
        *,
        schedule_id: str | None,
        destination: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """Create, or with `Upstash-Schedule-Id` replace, a schedule; arm its next fire."""
        now = self.clock()
        schedule = parse_schedule(
            schedule_id=schedule_id,
            destination=destination,
            headers=headers,
            body=body,
            now=now,
            limits=self.limits,
        )
        if schedule.template.retry_delay is not None:
            validate_retry_delay(schedule.template.retry_delay)
        previous = self.store.upsert(schedule)
        if previous is not None and previous.next_fire and previous.next_fire != schedule.next_fire:
            self.timers.disarm(schedule.schedule_id, previous.next_fire)
        self._arm(schedule)
        return schedule.schedule_id

    def _arm(self, schedule: Schedule) -> None:
        if schedule.next_fire is not None:
            self.timers.arm(
                TimerPayload(schedule.schedule_id, schedule.next_fire, kind=SCHEDULE),
                now=self.clock(),
            )

    def get(self, schedule_id: str) -> dict[str, Any]:
        return self._view(self.store.get(schedule_id))

    def all(self) -> list[dict[str, Any]]:
        return [self._view(s) for s in self.store.all()]

    def _view(self, schedule: Schedule) -> dict[str, Any]:
        last = self.messages.find(schedule.last_message_id) if schedule.last_message_id else None
        return schedule_view(schedule, last_message=last)

    def delete(self, schedule_id: str) -> None:
        """Delete; an armed fire finds no schedule and sends nothing."""
        deleted = self.store.delete(schedule_id)
        if deleted.next_fire is not None:
            self.timers.disarm(schedule_id, deleted.next_fire)

    def pause(self, schedule_id: str) -> None:
        current = self.store.get(schedule_id)
        self.store.set_paused(schedule_id, paused=True, next_fire=None)
        if current.next_fire is not None:
            self.timers.disarm(schedule_id, current.next_fire)

    def resume(self, schedule_id: str) -> None:
        """Resume with the next fire after now (fires while paused are not made up)."""
        current = self.store.get(schedule_id)
        if not current.paused:
            return
        next_fire = current.cron.next_after(self.clock())
        self.store.set_paused(schedule_id, paused=False, next_fire=next_fire)
        self.timers.arm(TimerPayload(schedule_id, next_fire, kind=SCHEDULE), now=self.clock())

    def fire(self, payload: TimerPayload) -> Outcome:
        """A schedule's timer: claim this fire, arm the next, deliver this one's message."""
        now = self.clock()
        schedule = self.store.find(payload.target_id)
        if schedule is None or schedule.paused or schedule.next_fire != payload.due_at:
            return Outcome.SKIPPED  # deleted, paused, or a stale/duplicate timer
        message = fire_message(schedule, payload.due_at, now=now)
        step = advance(schedule, payload.due_at, now=now)
        # While a kill switch is on the chain goes on, but fires create no message.
        switched_off = (
            self.switches is not None
            and self.switches.blocks(
                url=message.url,
                schedule_id=schedule.schedule_id,
                queue=message.options.get("queueName"),
            )
            is not None
        )
        claimed = self.store.fire(
            schedule,
            fired_at=payload.due_at,
            message=None if switched_off else message,
            next_fire=step.next_fire,
            missed=step.missed,
            now=now,
        )
        if not claimed:
            return Outcome.SKIPPED
        self.timers.arm(TimerPayload(schedule.schedule_id, step.next_fire, kind=SCHEDULE), now=now)
        if switched_off:
            return Outcome.SKIPPED
        fire_timer = TimerPayload(message.message_id, message.due_at)
        if message.due_at - self.clock() > EARLY_TOLERANCE:
            self.timers.arm(fire_timer, now=self.clock())  # the schedule has an Upstash-Delay
            return Outcome.REARMED
        # Deliver in this invocation: the fire is due now, another queue hop would only add
        # latency. Should this invocation die, the message is in the wake index for recovery.
        return self.deliver(fire_timer)
