"""The one composition root: Settings and a backend's adapters in, the whole object graph out.

Lambda builds it once per execution environment (`graph()` on first use). The dev server and
the tests build their own (`build(...)`) and `install` it, so the handlers serve it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from functions.config import Settings
from functions.domain.clock import utc_now
from functions.domain.timers import SCHEDULE, STEP
from functions.services.transport import LazyTransport

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from functions.domain.clock import Clock
    from functions.domain.publish import PublishLimits
    from functions.domain.signing import Signer
    from functions.domain.timers import TimerPayload
    from functions.ports import Adapters, ChangeCounter, MessageStore, TimeTravel
    from functions.services.deadletter import DeadLetters
    from functions.services.delivery import Dispatcher
    from functions.services.eventlog import EventLog
    from functions.services.flows import FlowRunner
    from functions.services.killswitches import KillSwitches
    from functions.services.messages import MessageService
    from functions.services.queues import QueueService
    from functions.services.recovery import Recovery
    from functions.services.schedules import ScheduleService
    from functions.services.stats import Stats
    from functions.services.topics import TopicService
    from functions.services.transport import Transport


T = TypeVar("T")


class _Service(Generic[T]):
    """A graph attribute built on first use, once, even when threads race for it.

    A Lambda function reaches a few services (dispatch: the dispatcher and, for a fire, the
    schedules), so each is imported and built only when asked for: importing every service
    module was a third of a cold start's own code (issue 13)."""

    def __init__(self, make: Callable[[Graph], T]) -> None:
        self._make = make

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, graph: None, owner: type | None = None) -> _Service[T]: ...

    @overload
    def __get__(self, graph: Graph, owner: type | None = None) -> T: ...

    def __get__(self, graph: Graph | None, owner: type | None = None) -> T | _Service[T]:
        if graph is None:
            return self  # on the class, as a property would be
        built: dict[str, Any] = graph.__dict__
        if self._name not in built:
            with graph._building:
                if self._name not in built:
                    built[self._name] = self._make(graph)
        return built[self._name]  # type: ignore[no-any-return]


def _limits(graph: Graph) -> PublishLimits:
    from functions.domain.publish import PublishLimits

    settings = graph.settings
    return PublishLimits(
        max_body_bytes=settings.max_body_bytes,
        default_retries=settings.default_retries,
        allowed_hosts=settings.allowed_hosts,
    )


def _kill_switches(graph: Graph) -> KillSwitches:
    from functions.services.killswitches import KillSwitches

    return KillSwitches(
        store=graph.adapters.kill_switches,
        clock=graph.clock,
        cache_seconds=graph.settings.kill_switch_cache_seconds,
        changes=graph.kill_switch_changes,
    )


def _topic_service(graph: Graph) -> TopicService:
    from functions.services.topics import TopicService

    return TopicService(store=graph.adapters.topics, clock=graph.clock)


def _queue_service(graph: Graph) -> QueueService:
    from functions.services.queues import QueueService

    adapters = graph.adapters
    return QueueService(
        store=adapters.queues, messages=adapters.messages, timers=adapters.timers, clock=graph.clock
    )


def _message_service(graph: Graph) -> MessageService:
    from functions.services.messages import MessageService

    return MessageService(
        store=graph.adapters.messages,
        timers=graph.adapters.timers,
        clock=graph.clock,
        limits=graph.limits,
        switches=graph.kill_switches,
        dedup_window=timedelta(seconds=graph.settings.dedup_window_seconds),
        groups=graph.topic_service.resolve,
        queues=graph.queue_service,
    )


def _dispatcher(graph: Graph) -> Dispatcher:
    from functions.services.delivery import Dispatcher

    return Dispatcher(
        store=graph.adapters.messages,
        timers=graph.adapters.timers,
        signer=graph.signer,
        http=graph.http,
        clock=graph.clock,
        allow_private=graph.settings.dev_mode,
        allowed_hosts=graph.settings.allowed_hosts,
        queues=graph.queue_service,
    )


def _dead_letters(graph: Graph) -> DeadLetters:
    from functions.services.deadletter import DeadLetters

    return DeadLetters(
        store=graph.adapters.messages, enqueue=graph.message_service.enqueue, clock=graph.clock
    )


def _event_log(graph: Graph) -> EventLog:
    from functions.services.eventlog import EventLog

    return EventLog(store=graph.adapters.messages)


def _schedule_service(graph: Graph) -> ScheduleService:
    from functions.services.schedules import ScheduleService

    adapters = graph.adapters
    return ScheduleService(
        store=adapters.schedules,
        messages=adapters.messages,
        timers=adapters.timers,
        clock=graph.clock,
        limits=graph.limits,
        deliver=graph.dispatcher.handle,
        switches=graph.kill_switches,
        groups=graph.topic_service.resolve,
    )


def _flow_runner(graph: Graph) -> FlowRunner:
    from functions.services.flows import FlowRunner

    settings = graph.settings
    return FlowRunner(
        store=graph.adapters.flows,
        timers=graph.adapters.step_timers,
        switches=graph.kill_switches,
        signer=graph.signer,
        http=graph.http,
        clock=graph.clock,
        allow_private=settings.dev_mode,
        allowed_hosts=settings.allowed_hosts,
        default_retries=settings.default_retries,
    )


def _stats(graph: Graph) -> Stats:
    from functions.services.stats import Stats

    return Stats(store=graph.adapters.messages, scan=graph.adapters.overdue, clock=graph.clock)


def _recovery(graph: Graph) -> Recovery:
    from functions.services.recovery import Recovery

    queues = graph.queue_service
    return Recovery(
        scan=graph.adapters.overdue,
        arm=graph.adapters.arm,
        clock=graph.clock,
        reconcile_queues=lambda grace: queues.reconcile(grace=grace),
    )


@dataclass
class Graph:
    """Every service over one backend's adapters, each built on first use (`_Service`)."""

    settings: Settings
    adapters: Adapters
    clock: Clock = utc_now
    http: Transport = field(default_factory=LazyTransport)
    # What signatures are dated by when `clock` is virtual (None: `clock`).
    wall_clock: Clock | None = None
    # Only a dev server on a manual clock can be moved (`duetime dev --clock manual`).
    time_travel: TimeTravel | None = None
    # Shared by the processes of a multi-process dev server (`KillSwitches.changes`).
    kill_switch_changes: ChangeCounter | None = None
    # Re-entrant: building the dispatcher builds the queue service it needs.
    _building: threading.RLock = field(
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )

    # One instance for the message and schedule services, as every other collaborator.
    limits = _Service(_limits)
    kill_switches = _Service(_kill_switches)
    topic_service = _Service(_topic_service)
    queue_service = _Service(_queue_service)
    message_service = _Service(_message_service)
    dispatcher = _Service(_dispatcher)
    dead_letters = _Service(_dead_letters)
    event_log = _Service(_event_log)
    schedule_service = _Service(_schedule_service)
    flow_runner = _Service(_flow_runner)
    stats = _Service(_stats)
    recovery = _Service(_recovery)

    @property
    def message_store(self) -> MessageStore:
        return self.adapters.messages

    def arm(self, payload: TimerPayload, now: datetime) -> None:
        self.adapters.arm(payload, now)

    def wake(self, payload: TimerPayload) -> str:
        """A timer fired: hand it to what it wakes; returns the outcome's name."""
        if self.adapters.rearm_if_early(payload, self.clock()):
            return "rearmed"
        if payload.kind == STEP:
            result = self.flow_runner.handle_timer(payload)
            return result.reason or ("sent" if result.ok else "failed")
        if payload.kind == SCHEDULE:
            return self.schedule_service.fire(payload).value
        return self.dispatcher.handle(payload).value

    def warm(self) -> None:
        """Build every service, and import what they would import at first use, now: for a
        long-lived server (`duetime dev`), whose first burst should not wait on imports. A
        Lambda function never calls this; its cold start is what laziness saves."""
        from functions.domain import cron, signing

        for name, value in vars(type(self)).items():
            if isinstance(value, _Service):
                getattr(self, name)
        signing.preload()
        cron.preload()

    def signer(self) -> Signer:
        """A signer over the current keys (they rotate), dated by the wall clock."""
        from functions.domain.signing import Signer

        return Signer(self.adapters.keys.signing_keys(), signed_at=self.wall_clock)


def build(
    settings: Settings,
    adapters: Adapters,
    *,
    clock: Clock = utc_now,
    http: Transport | None = None,
    wall_clock: Clock | None = None,
    kill_switch_changes: ChangeCounter | None = None,
) -> Graph:
    """Every service over one backend's adapters. `wall_clock`, when `clock` is virtual,
    is what signatures are dated by; `kill_switch_changes`, where several processes share the
    store, tells each when to re-read the switches."""
    return Graph(
        settings,
        adapters,
        clock=clock,
        http=http or LazyTransport(),
        wall_clock=wall_clock,
        kill_switch_changes=kill_switch_changes,
    )


_installed: Graph | None = None


def install(graph: Graph | None) -> None:
    """Serve `graph` from the handlers (None: build from the environment on next use)."""
    global _installed  # noqa: PLW0603 - the one process-wide root, by design
    _installed = graph


def graph() -> Graph:
    """The installed graph; on a Lambda cold start, the AWS one built from the environment."""
    if _installed is None:
        from functions.adapters.aws import aws_adapters  # AWS only

        settings = Settings.from_env()
        install(build(settings, aws_adapters(settings)))
    assert _installed is not None  # noqa: S101 - set just above
    return _installed
