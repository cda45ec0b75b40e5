"""The AWS backend: DynamoDB (pynamodb), SQS delays and EventBridge Scheduler timers, Secrets
Manager keys. Nothing outside this package touches the table, a queue or a schedule."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from functions.adapters.aws import clients
from functions.adapters.aws.invoke import AsyncInvoke
from functions.adapters.aws.keys import SecretsKeys
from functions.adapters.aws.killswitches import KillSwitchStore
from functions.adapters.aws.messages import MessageStore
from functions.adapters.aws.models import MODELS
from functions.adapters.aws.queues import QueueStore
from functions.adapters.aws.timers import TimerConfig, Timers
from functions.domain.timers import STEP
from functions.ports import Adapters

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient

    from functions.adapters.aws.timers import Invoke
    from functions.config import Settings
    from functions.domain.timers import TimerPayload
    from functions.ports import FlowStore, ScheduleStore, TopicStore


def bind(*, table_name: str, region: str) -> None:
    """Point every model at the deployment's table (pynamodb keeps this on the class)."""
    for model in MODELS:
        if model.Meta.table_name != table_name or model.Meta.region != region:
            model.Meta.table_name = table_name
            model.Meta.region = region
            model._connection = None


def aws_adapters(settings: Settings) -> Adapters:
    """The AWS backend: pynamodb stores on the deployment's table, SQS + EventBridge timers,
    Secrets Manager keys."""
    bind(table_name=settings.table_name, region=settings.region)
    retention = timedelta(days=settings.dlq_retention_days)
    messages = MessageStore(retention=retention, dlq_retention=retention)
    # One client per service, all from one botocore session (clients.py says why), each made
    # at its first call: `dispatch`'s happy path (claim, send, record) and a publish due now
    # (an Invoke) touch neither SQS nor the Scheduler.
    region = settings.region
    made = _Clients(
        sqs=cast("SQSClient", _Deferred(lambda: clients.sqs(region))),
        scheduler=cast("EventBridgeSchedulerClient", _Deferred(lambda: clients.scheduler(region))),
    )
    # Only delivery timers may start `dispatch` directly; flow steps have their own function.
    invoke = (
        AsyncInvoke(function_name=settings.dispatch_function, region=settings.region)
        if settings.dispatch_function
        else None
    )
    timers = _timers(
        settings,
        made,
        settings.queue_url,
        settings.queue_arn,
        invoke=invoke,
        eventbridge_target_arn=settings.dispatch_function,
    )
    step_timers = _timers(
        settings,
        made,
        settings.step_queue_url or settings.queue_url,
        settings.step_queue_arn or settings.queue_arn,
    )

    def rearm_if_early(payload: TimerPayload, now: datetime) -> bool:
        return (step_timers if payload.kind == STEP else timers).rearm_if_early(payload, now=now)

    return Adapters(
        name="aws",
        messages=messages,
        schedules=cast("ScheduleStore", _Deferred(_schedule_store)),
        flows=cast("FlowStore", _Deferred(_flow_store)),
        kill_switches=KillSwitchStore(),
        topics=cast("TopicStore", _Deferred(_topic_store)),
        queues=QueueStore(),
        overdue=messages,
        timers=timers,
        step_timers=step_timers,
        keys=SecretsKeys(settings, client=clients.secretsmanager(settings.region)),
        rearm_if_early=rearm_if_early,
    )


class _Deferred:
    """A store or client built at its first use. `dispatch` reads flows never, and schedules
    and topics only when a schedule fires; importing their modules (and the domain rules
    behind them), and making clients a path never calls, was part of every cold start
    (issue 13). Only attribute access is forwarded: nothing compares, copies or pickles these."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make = make
        self._store: object | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        # Reached only for names this object lacks; one made without __init__ (a copy) has
        # not even `_make`, and must not recurse looking for it.
        if "_make" not in vars(self):
            raise AttributeError(name)
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._make()
        return getattr(self._store, name)


def _schedule_store() -> ScheduleStore:
    from functions.adapters.aws.schedules import ScheduleStore  # noqa: PLC0415 - _Deferred

    return ScheduleStore()


def _flow_store() -> FlowStore:
    from functions.adapters.aws.flows import FlowStore  # noqa: PLC0415 - _Deferred

    return FlowStore()


def _topic_store() -> TopicStore:
    from functions.adapters.aws.topics import TopicStore  # noqa: PLC0415 - _Deferred

    return TopicStore()


@dataclass(frozen=True)
class _Clients:
    sqs: SQSClient
    scheduler: EventBridgeSchedulerClient


def _timers(
    settings: Settings,
    clients: _Clients,
    queue_url: str,
    queue_arn: str,
    *,
    invoke: Invoke | None = None,
    eventbridge_target_arn: str | None = None,
) -> Timers:
    return Timers(
        sqs=clients.sqs,
        scheduler=clients.scheduler,
        invoke=invoke,
        config=TimerConfig(
            queue_url=queue_url,
            queue_arn=queue_arn,
            schedule_group=settings.schedule_group,
            scheduler_role_arn=settings.scheduler_role_arn,
            sqs_horizon=timedelta(seconds=settings.sqs_horizon_seconds),
            eventbridge_lead=timedelta(seconds=settings.eventbridge_lead_seconds),
            eventbridge_target_arn=eventbridge_target_arn,
        ),
    )
