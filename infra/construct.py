"""`Duetime`: the whole service as one construct, for this repo's stack or any other CDK app."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.api import FrontDoor, FunctionUrlFrontDoor, HttpApiFrontDoor
from infra.bundling import lambda_code
from infra.config import DuetimeProps
from infra.functions import DuetimeFunctions, FunctionSettings
from infra.monitoring import Monitoring
from infra.secrets import Secrets
from infra.storage import Storage
from infra.timers import RecoveryClock, Timers


class Duetime(Construct):
    """Storage, timers, secrets, functions, front door and monitoring of one deployment."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DuetimeProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.storage = Storage(
            self,
            "Storage",
            removal_policy=props.removal_policy,
            deletion_protection=props.deletion_protection,
        )
        self.timers = Timers(
            self,
            "Timers",
            schedule_group_name=props.schedule_group_name,
            retention=Duration.days(props.retention_days),
        )
        self.secrets = Secrets(self, "Secrets", removal_policy=props.removal_policy)
        self.functions = DuetimeFunctions(
            self,
            "Functions",
            settings=FunctionSettings(
                code=lambda_code(props.runtime),
                runtime=props.runtime,
                memory_size_mb=props.memory_size_mb,
                log_level=props.log_level,
                log_retention=props.log_retention,
                removal_policy=props.removal_policy,
                allowed_destination_hosts=props.allowed_destination_hosts,
                message_retention_days=props.message_retention_days,
            ),
            table=self.storage.table,
            timers=self.timers,
            secrets=self.secrets,
            max_dispatch_concurrency=props.max_dispatch_concurrency,
            dispatch_reserved_concurrency=props.dispatch_reserved_concurrency,
        )
        self.recovery_clock = RecoveryClock(self, "RecoveryClock", target=self.functions.recover)
        self.front_door = self._front_door(props)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=self.functions.all,
            async_invoked={"dispatch": self.functions.dispatch},
            schedule_group_name=self.timers.schedule_group_name,
            queues={"delivery": self.timers.delivery_queue, "step": self.timers.step_queue},
            dead_letter_queues={"Delivery": self.timers.delivery_dlq, "Step": self.timers.step_dlq},
            failure_rate_threshold_percent=props.failure_rate_threshold_percent,
            alarm_actions=self._alarm_actions(props.alarm_topic_arn),
        )

    @property
    def url(self) -> str:
        """Base URL of the QStash-compatible API (QSTASH_URL)."""
        return self.front_door.url

    def _front_door(self, props: DuetimeProps) -> FrontDoor:
        if props.api == "function_url":
            return FunctionUrlFrontDoor(self, "FunctionUrl", handler=self.functions.schedule)
        return HttpApiFrontDoor(
            self,
            "HttpApi",
            handler=self.functions.schedule,
            rate_limit=props.throttle_rate_limit,
            burst_limit=props.throttle_burst_limit,
            log_retention=props.log_retention,
            removal_policy=props.removal_policy,
        )

    def _alarm_actions(self, topic_arn: str | None) -> list[cloudwatch.IAlarmAction]:
        if topic_arn is None:
            return []
        topic = sns.Topic.from_topic_arn(self, "AlarmTopic", topic_arn)
        return [cloudwatch_actions.SnsAction(topic)]
