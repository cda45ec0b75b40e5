"""What the schedules API and a schedule's timer do, without HTTP or Lambda."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from functions.domain.errors import NotFoundError
from functions.domain.retry import validate_retry_delay
from functions.domain.schedules import Schedule, advance, fire_message, parse_schedule
from functions.domain.timers import EARLY_TOLERANCE, SCHEDULE, TimerPayload
from functions.domain.views import schedule_view
from functions.observability import logger
from functions.services.delivery import Outcome

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from functions.domain.clock import Clock
    from functions.domain.messages import Message
    from functions.domain.publish import PublishLimits
    from functions.domain.topics import Topic
    from functions.ports import MessageStore, ScheduleStore, TimerPort
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
    groups: Callable[[str], Topic] | None = None  # a URL group by name (404 when unknown)

    def upsert(
        self,
        *,
        schedule_id: str | None,
        destination: str,
        headers: Mapping[str, str],
        body: bytes,
        to_group: bool = False,
        caller_ip: str | None = None,
    ) -> str:
        """Create, or with `Upstash-Schedule-Id` replace, a schedule; arm its next fire. A
        schedule to a URL group (which must exist) fans out to its endpoints at each fire."""
        now = self.clock()
        if to_group:
            if self.groups is None:
                raise NotFoundError(f"URL group {destination} not found")
            self.groups(destination)
        schedule = parse_schedule(
            schedule_id=schedule_id,
            destination=destination,
            headers=headers,
            body=body,
            now=now,
            limits=self.limits,
            to_group=to_group,
            caller_ip=caller_ip,
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
        step = advance(schedule, payload.due_at, now=now)
        # While a kill switch is on the chain goes on, but fires create no message for it.
        messages = tuple(
            m
            for m in self._fire_messages(schedule, fire_message(schedule, payload.due_at, now=now))
            if not self._switched_off(schedule, m)
        )
        claimed = self.store.fire(
            schedule,
            fired_at=payload.due_at,
            messages=messages,
            next_fire=step.next_fire,
            missed=step.missed,
            now=now,
        )
        if not claimed:
            return Outcome.SKIPPED
        self.timers.arm(TimerPayload(schedule.schedule_id, step.next_fire, kind=SCHEDULE), now=now)
        if not messages:
            return Outcome.SKIPPED
        first, *others = (TimerPayload(m.message_id, m.due_at) for m in messages)
        for timer in others:  # a URL group's other endpoints go side by side, on their timers
            self.timers.arm(timer, now=self.clock())
        if first.due_at - self.clock() > EARLY_TOLERANCE:
            self.timers.arm(first, now=self.clock())  # the schedule has an Upstash-Delay
            return Outcome.REARMED
        # Deliver in this invocation: the fire is due now, another queue hop would only add
        # latency. Should this invocation die, the message is in the wake index for recovery.
        return self.deliver(first)

    def _fire_messages(self, schedule: Schedule, message: Message) -> tuple[Message, ...]:
        """The fire's message, or for a schedule to a URL group one per endpoint it has now
        (none, logged, if the group is gone: the chain goes on)."""
        group = message.options.get("topicName")
        if not isinstance(group, str):
            return (message,)
        try:
            topic = self.groups(group) if self.groups is not None else None
        except NotFoundError:
            topic = None
        if topic is None:
            logger.warning(
                "schedule fired to a URL group that is gone",
                extra={"schedule_id": schedule.schedule_id, "group": group},
            )
            return ()
        return tuple(
            replace(
                message,
                message_id=f"{message.message_id}-{index:03d}",  # in order as text, too
                url=endpoint.url,
                options={
                    **message.options,
                    **({"endpointName": endpoint.name} if endpoint.name else {}),
                },
            )
            for index, endpoint in enumerate(topic.endpoints)
        )

    def _switched_off(self, schedule: Schedule, message: Message) -> bool:
        return (
            self.switches is not None
            and self.switches.blocks(
                url=message.url,
                schedule_id=schedule.schedule_id,
                queue=message.options.get("queueName"),
            )
            is not None
        )
