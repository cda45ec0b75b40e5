"""Wiring, once per execution environment: clients, stores, timers, services from Settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import boto3
import httpx
from aws_lambda_powertools.utilities import parameters

from functions import keys, store
from functions.clock import utc_now
from functions.config import settings
from functions.deadletter import DeadLetters
from functions.dispatcher import Dispatcher, Outcome
from functions.eventlog import EventLog
from functions.flow_runner import FlowRunner
from functions.killswitch import KillSwitches
from functions.publish import PublishLimits
from functions.recovery import Recovery
from functions.schedule_service import ScheduleService
from functions.service import MessageService
from functions.signing import Signer
from functions.stats import Stats
from functions.store.flows import FlowStore
from functions.store.killswitches import KillSwitchStore
from functions.store.messages import MessageStore
from functions.store.schedules import ScheduleStore
from functions.timers.arming import TimerConfig, TimerKind, Timers
from functions.timers.payload import SCHEDULE, STEP, TimerPayload


def _timers(queue_url: str, queue_arn: str) -> Timers:
    s = settings()
    return Timers(
        sqs=boto3.client("sqs", region_name=s.region),
        scheduler=boto3.client("scheduler", region_name=s.region),
        config=TimerConfig(
            queue_url=queue_url,
            queue_arn=queue_arn,
            schedule_group=s.schedule_group,
            scheduler_role_arn=s.scheduler_role_arn,
            sqs_horizon=timedelta(seconds=s.sqs_horizon_seconds),
            eventbridge_lead=timedelta(seconds=s.eventbridge_lead_seconds),
        ),
    )


@cache
def timers() -> Timers:
    """Timers into the delivery queue (messages, schedule fires)."""
    return _timers(settings().queue_url, settings().queue_arn)


@cache
def step_timers() -> Timers:
    """Timers into the step queue (flow steps)."""
    s = settings()
    return _timers(s.step_queue_url or s.queue_url, s.step_queue_arn or s.queue_arn)


def arm(payload: TimerPayload, *, now: datetime) -> TimerKind:
    """Arm a timer on the queue its kind is consumed from."""
    return (step_timers() if payload.kind == STEP else timers()).arm(payload, now=now)


@cache
def message_store() -> MessageStore:
    s = settings()
    store.bind(table_name=s.table_name, region=s.region)
    retention = timedelta(days=s.dlq_retention_days)
    return MessageStore(retention=retention, dlq_retention=retention)


def signer() -> Signer:
    """A signer over the current keys (cached for `secret_cache_seconds`, then re-read)."""
    return Signer(keys.signing_keys(settings()))


@cache
def http() -> httpx.Client:
    return httpx.Client()


def publish_limits() -> PublishLimits:
    s = settings()
    return PublishLimits(
        max_body_bytes=s.max_body_bytes,
        default_retries=s.default_retries,
        allowed_hosts=s.allowed_hosts,
    )


@cache
def kill_switches() -> KillSwitches:
    message_store()  # binds the models
    return KillSwitches(store=KillSwitchStore(), clock=utc_now)


@cache
def message_service() -> MessageService:
    return MessageService(
        store=message_store(),
        timers=timers(),
        clock=utc_now,
        limits=publish_limits(),
        switches=kill_switches(),
        dedup_window=timedelta(seconds=settings().dedup_window_seconds),
    )


@cache
def dispatcher() -> Dispatcher:
    return Dispatcher(
        store=message_store(),
        timers=timers(),
        signer=signer,
        http=http(),
        clock=utc_now,
        allow_private=settings().dev_mode,
        allowed_hosts=settings().allowed_hosts,
        enqueue=message_service().enqueue,
    )


@cache
def dead_letters() -> DeadLetters:
    return DeadLetters(store=message_store(), enqueue=message_service().enqueue, clock=utc_now)


@cache
def event_log() -> EventLog:
    return EventLog(store=message_store())


@cache
def schedule_service() -> ScheduleService:
    return ScheduleService(
        store=ScheduleStore(messages=message_store()),
        messages=message_store(),
        timers=timers(),
        clock=utc_now,
        limits=publish_limits(),
        deliver=dispatcher().handle,
        switches=kill_switches(),
    )


@cache
def flow_runner() -> FlowRunner:
    message_store()  # binds the models
    s = settings()
    return FlowRunner(
        store=FlowStore(),
        timers=step_timers(),
        switches=kill_switches(),
        signer=signer,
        http=http(),
        clock=utc_now,
        allow_private=s.dev_mode,
        allowed_hosts=s.allowed_hosts,
        default_retries=s.default_retries,
    )


def handle_timer(payload: TimerPayload) -> Outcome:
    """Route a fired timer from the delivery queue to what it wakes."""
    if payload.kind == SCHEDULE:
        return schedule_service().fire(payload)
    return dispatcher().handle(payload)


@cache
def stats() -> Stats:
    return Stats(store=message_store(), clock=utc_now)


@cache
def recovery() -> Recovery:
    return Recovery(store=message_store(), arm=arm, clock=utc_now)


def reset() -> None:
    """Forget the wiring (tests and the dev server re-read the environment)."""
    for cached in (
        settings,
        timers,
        step_timers,
        message_store,
        http,
        kill_switches,
        message_service,
        dispatcher,
        recovery,
        dead_letters,
        event_log,
        schedule_service,
        flow_runner,
        stats,
    ):
        cached.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
