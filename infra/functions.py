"""The four duetime functions, each with its own role holding only what it uses.

schedule  HTTP API (publish, messages, keys)   table RW, both queues, scheduler, both secrets,
                                               invokes dispatch for timers due now (and its
                                               schedules do, for far-off ones)
dispatch  delivery queue consumer              table RW, delivery queue, scheduler, signing
step      step queue consumer (flows)          table RW, both queues, scheduler, signing
recover   every minute (RecoveryClock)         table RW, both queues, scheduler, signing
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_nag import RegexAppliesTo
from constructs import Construct

from functions.domain import timeouts
from infra.nag import suppress
from infra.secrets import Secrets
from infra.timers import Timers

SERVICE = "duetime"
SQS_BATCH_SIZE = timeouts.DISPATCH_BATCH_SIZE
API_TIMEOUT = Duration.seconds(15)
# Shorter than the one-minute tick, so one recovery run ends before the next begins.
RECOVER_TIMEOUT = Duration.seconds(55)
ASYNC_MAX_EVENT_AGE = Duration.minutes(10)
# cdk-nag's finding for grant_read_write_data's index ARN: Resource::<TableLogicalId.Arn>/index/*
_TABLE_INDEXES = r"/^Resource::<[A-Za-z0-9]*Table[A-Za-z0-9]*\.Arn>\/index\/\*$/g"


def _schedules_in_group(group: str) -> str:
    """cdk-nag's finding for schedule/<group>/*, whether partition, region and account are
    tokens (environment-agnostic stack) or literals (a stack with an env)."""
    part = r"(?:<AWS::[A-Za-z]+>|[^:<>]*)"
    return rf"/^Resource::arn:{part}:scheduler:{part}:{part}:schedule\/{re.escape(group)}\/\*$/g"


@dataclass(frozen=True)
class FunctionSettings:
    """What every duetime function shares."""

    code: lambda_.Code
    runtime: lambda_.Runtime
    memory_size_mb: int
    log_level: str
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    allowed_destination_hosts: tuple[str, ...]
    message_retention_days: int = 7


class DuetimeFunctions(Construct):
    """schedule, dispatch, step and recover, wired to the table, queues, scheduler and secrets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: FunctionSettings,
        table: dynamodb.ITable,
        timers: Timers,
        secrets: Secrets,
        max_dispatch_concurrency: int,
        dispatch_reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._timers = timers
        self._environment = self._shared_environment(table, timers, secrets, settings)

        self.schedule = self._function(
            "Schedule", "functions.handlers.schedule.handler", timeout=API_TIMEOUT
        )
        self.dispatch = self._function(
            "Dispatch",
            "functions.handlers.dispatch.handler",
            timeout=Duration.seconds(timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS),
            reserved_concurrency=dispatch_reserved_concurrency,
        )
        self.step = self._function(
            "Step",
            "functions.handlers.step.handler",
            timeout=Duration.seconds(timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS),
        )
        self.recover = self._function(
            "Recover",
            "functions.handlers.recover.handler",
            timeout=RECOVER_TIMEOUT,
            # Invoked asynchronously every minute: a failed tick is retried by the next one.
            retry_attempts=0,
        )

        self._invoke_dispatch_for_timers_due_now(timers)

        for consumer, source in (
            (self.dispatch, timers.delivery_queue),
            (self.step, timers.step_queue),
        ):
            consumer.add_event_source(
                event_sources.SqsEventSource(
                    source,
                    batch_size=SQS_BATCH_SIZE,
                    max_batching_window=Duration.seconds(0),
                    report_batch_item_failures=True,
                    max_concurrency=max_dispatch_concurrency,
                )
            )

        sends_to: Sequence[tuple[lambda_.Function, Sequence[sqs.IQueue]]] = (
            (self.schedule, (timers.delivery_queue, timers.step_queue)),
            # dispatch re-arms a delivery it could not finish; it never starts a flow step.
            (self.dispatch, (timers.delivery_queue,)),
            (self.step, (timers.delivery_queue, timers.step_queue)),
            (self.recover, (timers.delivery_queue, timers.step_queue)),
        )
        for fn, queues in sends_to:
            table.grant_read_write_data(fn)
            timers.allow_scheduling(fn)
            secrets.signing_keys.grant_read(fn)
            for queue in queues:
                queue.grant_send_messages(fn)
        # Only the API authenticates callers, and only it rotates the signing keys.
        secrets.api_token.grant_read(self.schedule)
        secrets.signing_keys.grant_write(self.schedule)

    def _invoke_dispatch_for_timers_due_now(self, timers: Timers) -> None:
        """The API starts `dispatch` directly for a message due now: one request where the
        delivery queue takes three (functions/adapters/aws/invoke.py; docs/cost.md). Lambda
        retries a failed invocation twice; then its record goes to the delivery queue, whose
        consumer reads the timer out of it. Only `schedule` invokes: `dispatch` naming itself
        would be a circular reference, and its re-arms are never due at once. The API's
        EventBridge schedules invoke `dispatch` too; the others' still send to the queues.

        An event that finds `dispatch` throttled waits in Lambda's queue; past 10 minutes it
        goes to the delivery queue too, so a throttled burst is late by at most that much
        before the queue's capped event source takes it over (not Lambda's default 6 h)."""
        self.schedule.add_environment("DUETIME_DISPATCH_FUNCTION", self.dispatch.function_arn)
        invoke_dispatch = iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[self.dispatch.function_arn]
        )
        self.schedule.add_to_role_policy(invoke_dispatch)
        # The API's far-off timers are schedules that invoke dispatch with the timer, instead
        # of sending it to the queue whose event source would invoke dispatch with it.
        timers.scheduler_role.add_to_policy(invoke_dispatch)
        self.dispatch.configure_async_invoke(
            retry_attempts=2,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(timers.delivery_queue),
        )

    @property
    def all(self) -> dict[str, lambda_.Function]:
        return {
            "schedule": self.schedule,
            "dispatch": self.dispatch,
            "step": self.step,
            "recover": self.recover,
        }

    @staticmethod
    def _shared_environment(
        table: dynamodb.ITable, timers: Timers, secrets: Secrets, settings: FunctionSettings
    ) -> dict[str, str]:
        """The environment functions/config.py `Settings.from_env` reads."""
        environment = {
            "DUETIME_TABLE_NAME": table.table_name,
            "DUETIME_QUEUE_URL": timers.delivery_queue.queue_url,
            "DUETIME_QUEUE_ARN": timers.delivery_queue.queue_arn,
            "DUETIME_STEP_QUEUE_URL": timers.step_queue.queue_url,
            "DUETIME_STEP_QUEUE_ARN": timers.step_queue.queue_arn,
            "DUETIME_SCHEDULE_GROUP": timers.schedule_group_name,
            "DUETIME_SCHEDULER_ROLE_ARN": timers.scheduler_role.role_arn,
            "DUETIME_SIGNING_KEYS_SECRET_ID": secrets.signing_keys.secret_arn,
            "DUETIME_TOKEN_SECRET_ID": secrets.api_token.secret_arn,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": SERVICE,
            "POWERTOOLS_LOG_LEVEL": settings.log_level,
            "DUETIME_DLQ_RETENTION_DAYS": str(settings.message_retention_days),
        }
        if settings.allowed_destination_hosts:
            environment["DUETIME_ALLOWED_HOSTS"] = ",".join(settings.allowed_destination_hosts)
        return environment

    def _function(
        self,
        construct_id: str,
        handler: str,
        *,
        timeout: Duration,
        retry_attempts: int | None = None,
        reserved_concurrency: int | None = None,
    ) -> lambda_.Function:
        s = self._settings
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=s.log_retention,
            removal_policy=s.removal_policy,
        )
        # An own role instead of the managed AWSLambdaBasicExecutionRole: logs go to this
        # function's log group only.
        role = iam.Role(
            self,
            f"{construct_id}Role",
            description=f"duetime {construct_id.lower()} function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        log_group.grant_write(role)
        self._suppress_role_findings(role)
        fn = lambda_.Function(
            self,
            construct_id,
            description=f"duetime {construct_id.lower()}",
            code=s.code,
            handler=handler,
            runtime=s.runtime,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=s.memory_size_mb,
            timeout=timeout,
            role=role,
            log_group=log_group,
            environment=self._environment,
            retry_attempts=retry_attempts,
            reserved_concurrent_executions=reserved_concurrency,
        )
        suppress(
            fn,
            "AwsSolutions-L1",
            f"Runtime pinned to {s.runtime.name}: the bundle's compiled wheels and bytecode are "
            "built for exactly this version, so a newer runtime is a deliberate "
            "DuetimeProps.runtime change after the dependencies and tests are checked on it.",
        )
        return fn

    def _suppress_role_findings(self, role: iam.Role) -> None:
        group = self._timers.schedule_group_name
        suppress(
            role,
            "AwsSolutions-IAM5",
            "Timers are one-time schedules named per message at run time, so a function may "
            f"create, read and delete any schedule, but only inside the '{group}' schedule group.",
            applies_to=[RegexAppliesTo(regex=_schedules_in_group(group))],
            apply_to_children=True,
        )
        suppress(
            role,
            "AwsSolutions-IAM5",
            "grant_read_write_data adds <table ARN>/index/* because the functions query the "
            "table's global secondary indexes (functions/store/schema.py: wake for recovery, "
            "listings for the API); the wildcard covers only this table's own indexes.",
            applies_to=[RegexAppliesTo(regex=_TABLE_INDEXES)],
            apply_to_children=True,
        )
