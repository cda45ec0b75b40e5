"""The one composition root: Settings and a backend's adapters in, the whole object graph out.

Lambda builds it once per execution environment (`graph()` on first use). The dev server and
the tests build their own (`build(...)`) and `install` it, so the handlers serve it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.config import Settings
from functions.domain.clock import Clock, utc_now
from functions.domain.publish import PublishLimits
from functions.domain.signing import Signer
from functions.domain.timers import SCHEDULE, STEP, TimerPayload
from functions.ports import Adapters, MessageStore, TimeTravel
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
from functions.services.transport import LazyTransport, Transport


@dataclass
class Graph:
    settings: Settings
    adapters: Adapters
    clock: Clock
    http: Transport
    kill_switches: KillSwitches
    message_service: MessageService
    topic_service: TopicService
    queue_service: QueueService
    dispatcher: Dispatcher
    dead_letters: DeadLetters
    event_log: EventLog
    schedule_service: ScheduleService
    flow_runner: FlowRunner
    stats: Stats
    recovery: Recovery
    # Only a dev server on a manual clock can be moved (`duetime dev --clock manual`).
    time_travel: TimeTravel | None = None

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


def build(
    settings: Settings,
    adapters: Adapters,
    *,
    clock: Clock = utc_now,
    http: Transport | None = None,
    wall_clock: Clock | None = None,
) -> Graph:
    """Every service over one backend's adapters. `wall_clock`, when `clock` is virtual,
    is what signatures are dated by."""
    client = http or LazyTransport()
    limits = PublishLimits(
        max_body_bytes=settings.max_body_bytes,
        default_retries=settings.default_retries,
        allowed_hosts=settings.allowed_hosts,
    )
    switches = KillSwitches(
        store=adapters.kill_switches, clock=clock, cache_seconds=settings.kill_switch_cache_seconds
    )
    topics = TopicService(store=adapters.topics, clock=clock)
    queues = QueueService(
        store=adapters.queues, messages=adapters.messages, timers=adapters.timers, clock=clock
    )
    messages = MessageService(
        store=adapters.messages,
        timers=adapters.timers,
        clock=clock,
        limits=limits,
        switches=switches,
        dedup_window=timedelta(seconds=settings.dedup_window_seconds),
        groups=topics.resolve,
        queues=queues,
    )

    def signer() -> Signer:
        return Signer(adapters.keys.signing_keys(), signed_at=wall_clock)

    dispatcher = Dispatcher(
        store=adapters.messages,
        timers=adapters.timers,
        signer=signer,
        http=client,
        clock=clock,
        allow_private=settings.dev_mode,
        allowed_hosts=settings.allowed_hosts,
        queues=queues,
    )
    return Graph(
        settings=settings,
        adapters=adapters,
        clock=clock,
        http=client,
        kill_switches=switches,
        message_service=messages,
        topic_service=topics,
        queue_service=queues,
        dispatcher=dispatcher,
        dead_letters=DeadLetters(store=adapters.messages, enqueue=messages.enqueue, clock=clock),
        event_log=EventLog(store=adapters.messages),
        schedule_service=ScheduleService(
            store=adapters.schedules,
            messages=adapters.messages,
            timers=adapters.timers,
            clock=clock,
            limits=limits,
            deliver=dispatcher.handle,
            switches=switches,
            groups=topics.resolve,
        ),
        flow_runner=FlowRunner(
            store=adapters.flows,
            timers=adapters.step_timers,
            switches=switches,
            signer=signer,
            http=client,
            clock=clock,
            allow_private=settings.dev_mode,
            allowed_hosts=settings.allowed_hosts,
            default_retries=settings.default_retries,
        ),
        stats=Stats(store=adapters.messages, scan=adapters.overdue, clock=clock),
        recovery=Recovery(
            scan=adapters.overdue,
            arm=adapters.arm,
            clock=clock,
            reconcile_queues=lambda grace: queues.reconcile(grace=grace),
        ),
    )


_installed: Graph | None = None


def install(graph: Graph | None) -> None:
    """Serve `graph` from the handlers (None: build from the environment on next use)."""
    global _installed  # noqa: PLW0603 - the one process-wide root, by design
    _installed = graph


def graph() -> Graph:
    """The installed graph; on a Lambda cold start, the AWS one built from the environment."""
    if _installed is None:
        from functions.adapters.aws import aws_adapters  # noqa: PLC0415 - AWS only

        settings = Settings.from_env()
        install(build(settings, aws_adapters(settings)))
    assert _installed is not None  # noqa: S101 - set just above
    return _installed
