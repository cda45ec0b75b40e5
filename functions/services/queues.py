"""Queues, without HTTP: the `/v2/queues` API, and the gate every queued delivery passes.

The gate keeps a queue's order and parallelism on any backend. A dispatcher that claimed a
queued message asks `admit`; a message its queue does not admit yet is parked (out of the
wake index) and woken by `drain` when a slot frees. Admission moves the oldest waiting
members first, so with parallelism 1 messages go one by one in enqueue order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.domain.errors import NotFoundError
from functions.domain.flowcontrol import (
    check_key,
    flow_control_view,
    parse_pin,
    parse_unpin,
)
from functions.domain.messages import CLAIMABLE, TERMINAL, Message, MessageState
from functions.domain.queues import (
    FLOW_CONTROL_PREFIX,
    Admission,
    Member,
    MemberState,
    QueueCounts,
    check_queue_name,
    is_flow_control_lane,
    lane_name,
    lane_settings_of,
    member_of,
    parse_upsert,
    queue_view,
)
from functions.domain.timers import TimerPayload

if TYPE_CHECKING:
    from collections.abc import Iterable

    from functions.domain.clock import Clock
    from functions.ports import MessageStore, QueueStore, TimerPort


@dataclass
class QueueService:
    store: QueueStore
    messages: MessageStore
    timers: TimerPort
    clock: Clock

    # --- the API ----------------------------------------------------------------------------
    def upsert(self, body: dict[str, Any] | None) -> None:
        settings = parse_upsert(body)
        self.store.upsert(
            settings.name,
            parallelism=settings.parallelism,
            paused=settings.paused,
            now=self.clock(),
        )
        self.drain(settings.name)  # more slots, or resumed, admit at once

    def get(self, name: str) -> dict[str, Any]:
        return queue_view(self._counts(check_queue_name(name), what="queue"))

    def all(self) -> list[dict[str, Any]]:
        return [
            queue_view(counts)
            for counts in self.store.all()
            if not is_flow_control_lane(counts.queue.name)
        ]

    def delete(self, name: str) -> None:
        self.store.delete(check_queue_name(name))

    def pause(self, name: str) -> None:
        if not self.store.set_paused(check_queue_name(name), paused=True, now=self.clock()):
            raise NotFoundError(f"queue {name} not found")

    def resume(self, name: str) -> None:
        if not self.store.set_paused(check_queue_name(name), paused=False, now=self.clock()):
            raise NotFoundError(f"queue {name} not found")
        self.drain(name)

    # --- the flow-control API ---------------------------------------------------------------
    def flow_control(self, key: str) -> dict[str, Any]:
        return flow_control_view(self._counts(lane_name(check_key(key)), what="flow-control key"))

    def flow_controls(self) -> list[dict[str, Any]]:
        return [
            flow_control_view(counts)
            for counts in self.store.all()
            if is_flow_control_lane(counts.queue.name)
        ]

    def global_parallelism(self) -> dict[str, int]:
        """duetime sets no global cap (0, as the SDKs read "none"); the count is every
        flow-controlled message in progress."""
        active = sum(
            counts.active for counts in self.store.all() if is_flow_control_lane(counts.queue.name)
        )
        return {"parallelismMax": 0, "parallelismCount": active}

    def set_flow_control_paused(self, key: str, *, paused: bool) -> None:
        """A key may be paused (or pinned) before its first message: its messages join when
        due, so a pause right after a publish must not miss the key."""
        name = lane_name(check_key(key))
        self.store.ensure(name, now=self.clock())
        self.store.set_paused(name, paused=paused, now=self.clock())
        self.drain(name)

    def pin(self, key: str, params: dict[str, str]) -> None:
        settings = parse_pin(params)
        name = lane_name(check_key(key))
        self.store.ensure(name, now=self.clock())
        self.store.pin(name, settings.lane(), now=self.clock())
        self.drain(name)

    def unpin(self, key: str, params: dict[str, str]) -> None:
        parallelism, rate = parse_unpin(params)
        self.store.unpin(self._known_key(key), parallelism=parallelism, rate=rate, now=self.clock())

    def reset_rate(self, key: str) -> None:
        name = self._known_key(key)
        self.store.reset_rate(name, now=self.clock())
        self.drain(name)

    def _known_key(self, key: str) -> str:
        name = lane_name(check_key(key))
        self._counts(name, what="flow-control key")
        return name

    def member_ids(self) -> list[str]:
        """Every message in a lane, waiting or admitted: a parked one, and one admitted from
        parked, is in no wake index, so a bulk cancel must look here too."""
        return [
            member.message_id
            for counts in self.store.all()
            if counts.lag
            for state in (MemberState.WAITING, MemberState.ACTIVE)
            for member in self.store.members(counts.queue.name, state)
        ]

    # --- the gate ---------------------------------------------------------------------------
    def join(self, member: Member) -> None:
        """A new message takes its place in line (before it is written: see MessageService)."""
        self.store.join(member, now=self.clock())

    def withdraw(self, member: Member) -> None:
        """Undo a join whose message was never written (a duplicate)."""
        self.store.leave(member)

    def admit(self, message: Message) -> bool:
        """Whether a claimed queued message may be attempted now: it holds a slot already
        (a retry, or a crashed attempt), or the queue admits it now."""
        member = _member(message)
        state = self.store.state(member)
        if state is MemberState.ACTIVE:
            return True
        if state is None:  # a flow-controlled message joins when due; an enqueue that stopped
            self.store.join(member, now=self.clock(), settings=lane_settings_of(message))
        admission = self._admit(member.queue, skip=message.message_id, arm_held_back=False)
        admitted = message.message_id in admission.admitted
        if admitted:
            # This claim opened the period (or took a slot): it drives the next wake-up, so
            # the member the rate holds back now is not left for the minute's reconcile.
            self._arm_at_next_period(admission)
        return admitted

    def parked(self, message: Message) -> None:
        """After a claim was handed back: admit again (a slot or a period may have come
        meanwhile); a head the rate holds back is woken at the next period; and if another
        admitted it meanwhile, that wake-up was lost to this claim, so wake it again."""
        member = _member(message)
        admission = self._admit(member.queue, arm_held_back=False)
        if admission.held_back == message.message_id:
            self._arm_at_next_period(admission)
        if self.store.state(member) is MemberState.ACTIVE:
            self._wake([message.message_id])

    def finished(self, message: Message) -> None:
        """The message is delivered, failed or cancelled: free its slot, admit the next."""
        member = member_of(message)
        if member is None:
            return
        self.store.leave(member)
        self.drain(member.queue)

    def drain(self, name: str) -> None:
        self._admit(name)

    def _admit(
        self, name: str, *, skip: str | None = None, arm_held_back: bool = True
    ) -> Admission:
        """Admit what the lane allows and wake it (but `skip`, whose caller goes on itself).
        A member the rate holds back is woken when the next period starts; a claim's own
        pass leaves that to the head's park, or each waiting claim would arm one more."""
        admission = self.store.admit(name, now=self.clock())
        self._wake(i for i in admission.admitted if i != skip)
        if arm_held_back:
            self._arm_at_next_period(admission)
        return admission

    def _arm_at_next_period(self, admission: Admission) -> None:
        if admission.held_back is not None and admission.next_period is not None:
            payload = TimerPayload(admission.held_back, admission.next_period)
            self.timers.arm(payload, now=self.clock())

    def reconcile(self, *, grace: timedelta) -> int:
        """What recovery does for queues: free slots held by finished or vanished messages
        (a crash between the record and `finished`), wake admitted messages whose wake-up was
        lost, and admit into free slots. Returns how many members it acted on."""
        now = self.clock()
        acted = 0
        for counts in self.store.all():
            if not counts.lag:
                continue  # nothing in line: nothing to heal (most flow-control keys, idle)
            name = counts.queue.name
            for member in self.store.members(name, MemberState.ACTIVE):
                message = self.messages.find(member.message_id)
                # A member joins before its message is written: only an old one is a ghost.
                ghost = message is None and _joined_at(member) < now - grace
                if ghost or (message is not None and message.state in TERMINAL):
                    self.store.leave(member)
                    acted += 1
                elif message is not None and _stalled(message, now=now, grace=grace):
                    self._wake([member.message_id])
                    acted += 1
            self.drain(name)
        return acted

    def _counts(self, name: str, *, what: str) -> QueueCounts:
        counts = self.store.get(name)
        if counts is None:
            shown = name.removeprefix(FLOW_CONTROL_PREFIX)
            raise NotFoundError(f"{what} {shown} not found")
        return counts

    def _wake(self, message_ids: Iterable[str]) -> None:
        now = self.clock()
        for message_id in message_ids:
            self.timers.arm(TimerPayload(message_id, now), now=now)


def _member(message: Message) -> Member:
    member = member_of(message)
    if member is None:
        raise ValueError(f"message {message.message_id} is in no queue")
    return member


def _joined_at(member: Member) -> datetime:
    """When the member's message was created (its order key starts with that, in µs)."""
    created_us = int(member.order.split("#", 1)[0])
    return datetime.fromtimestamp(created_us / 1_000_000, tz=UTC)


def _stalled(message: Message, *, now: datetime, grace: timedelta) -> bool:
    """Admitted but nobody is on it: waiting and due a while ago, or its lease ran out."""
    if message.state in CLAIMABLE:
        return message.due_at < now - grace
    return (
        message.state is MessageState.ACTIVE
        and message.lease_until is not None
        and message.lease_until < now
    )
