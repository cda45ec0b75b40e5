"""Queues, without HTTP: the `/v2/queues` API, and the gate every queued delivery passes.

The gate keeps a queue's order and parallelism on any backend. A dispatcher that claimed a
queued message asks `admit`; a message its queue does not admit yet is parked (out of the
wake index) and woken by `drain` when a slot frees. Admission moves the oldest waiting
members first, so with parallelism 1 messages go one by one in enqueue order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.domain.clock import Clock
from functions.domain.errors import NotFoundError
from functions.domain.messages import CLAIMABLE, TERMINAL, Message, MessageState
from functions.domain.queues import (
    Member,
    MemberState,
    QueueCounts,
    check_queue_name,
    member_of,
    parse_upsert,
    queue_view,
)
from functions.domain.timers import TimerPayload
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
        return queue_view(self._counts(name))

    def all(self) -> list[dict[str, Any]]:
        return [queue_view(counts) for counts in self.store.all()]

    def delete(self, name: str) -> None:
        self.store.delete(check_queue_name(name))

    def pause(self, name: str) -> None:
        if not self.store.set_paused(check_queue_name(name), paused=True, now=self.clock()):
            raise NotFoundError(f"queue {name} not found")

    def resume(self, name: str) -> None:
        if not self.store.set_paused(check_queue_name(name), paused=False, now=self.clock()):
            raise NotFoundError(f"queue {name} not found")
        self.drain(name)

    def waiting_ids(self) -> list[str]:
        """Every queued message not yet admitted (parked ones leave the wake index)."""
        return [
            member.message_id
            for counts in self.store.all()
            for member in self.store.members(counts.queue.name, MemberState.WAITING)
        ]

    # --- the gate ---------------------------------------------------------------------------
    def join(self, member: Member) -> None:
        """A new message takes its place in line; the queue admits what it can."""
        self.store.join(member, now=self.clock())
        self.drain(member.queue)

    def admit(self, message: Message) -> bool:
        """Whether a claimed queued message may be attempted now: it holds a slot already
        (a retry, or a crashed attempt), or the queue admits it now."""
        member = _member(message)
        state = self.store.state(member)
        if state is MemberState.ACTIVE:
            return True
        if state is None:  # its enqueue stopped after writing the message
            self.store.join(member, now=self.clock())
        admitted = self.store.admit(member.queue)
        self._wake(i for i in admitted if i != message.message_id)
        return message.message_id in admitted

    def parked(self, message: Message) -> None:
        """After a claim was handed back: if a slot came to it meanwhile, its wake-up was
        lost to that claim, so wake it again."""
        if self.store.state(_member(message)) is MemberState.ACTIVE:
            self._wake([message.message_id])

    def finished(self, message: Message) -> None:
        """The message is delivered, failed or cancelled: free its slot, admit the next."""
        member = member_of(message)
        if member is None:
            return
        self.store.leave(member)
        self.drain(member.queue)

    def drain(self, name: str) -> None:
        self._wake(self.store.admit(name))

    def reconcile(self, *, grace: timedelta) -> int:
        """What recovery does for queues: free slots held by finished or vanished messages
        (a crash between the record and `finished`), wake admitted messages whose wake-up was
        lost, and admit into free slots. Returns how many members it acted on."""
        now = self.clock()
        acted = 0
        for counts in self.store.all():
            name = counts.queue.name
            for member in self.store.members(name, MemberState.ACTIVE):
                message = self.messages.find(member.message_id)
                if message is None or message.state in TERMINAL:
                    self.store.leave(member)
                    acted += 1
                elif _stalled(message, now=now, grace=grace):
                    self._wake([member.message_id])
                    acted += 1
            self.drain(name)
        return acted

    def _counts(self, name: str) -> QueueCounts:
        counts = self.store.get(check_queue_name(name))
        if counts is None:
            raise NotFoundError(f"queue {name} not found")
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


def _stalled(message: Message, *, now: datetime, grace: timedelta) -> bool:
    """Admitted but nobody is on it: waiting and due a while ago, or its lease ran out."""
    if message.state in CLAIMABLE:
        return message.due_at < now - grace
    return (
        message.state is MessageState.ACTIVE
        and message.lease_until is not None
        and message.lease_until < now
    )
