"""Where wake-ups wait: the delivery and step queues, their DLQs, the schedule group, and the
role EventBridge Scheduler assumes to drop a timer into a queue.

Timers within 15 minutes are SQS delays; later ones are one-time schedules in the group
(functions/timers/arming.py). Both end as a message on a queue that a Lambda consumes.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.domain import timeouts

# After this many failed receives a timer moves to its DLQ and the DLQ alarm fires.
MAX_RECEIVE_COUNT = 5
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
RECOVERY_RATE = "rate(1 minute)"
# EventBridge Scheduler's own group; the recovery clock lives here, out of reach of the
# functions' DeleteSchedule permission on the duetime group.
DEFAULT_SCHEDULE_GROUP = "default"


def schedule_group_arn(scope: Construct, group_name: str) -> str:
    return Stack.of(scope).format_arn(
        service="scheduler",
        resource="schedule-group",
        resource_name=group_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def schedules_in_group_arn(scope: Construct, group_name: str) -> str:
    """ARN pattern of every schedule in one group (the functions' scheduler permissions)."""
    return Stack.of(scope).format_arn(
        service="scheduler",
        resource="schedule",
        resource_name=f"{group_name}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def scheduler_principal(scope: Construct, group_name: str) -> iam.IPrincipal:
    """EventBridge Scheduler, acting for a schedule group of this account only.

    aws:SourceArn is the schedule group's ARN, as the Scheduler confused-deputy guide asks
    (not a schedule's ARN).
    """
    return iam.ServicePrincipal(
        SCHEDULER_PRINCIPAL,
        conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnEquals": {"aws:SourceArn": schedule_group_arn(scope, group_name)},
        },
    )


class _QueueWithDlq(Construct):
    """A standard queue whose messages move to a dead-letter queue after repeated failures."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        visibility_timeout: Duration,
        dlq_retention: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=dlq_retention,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )


class Timers(Construct):
    """Delivery and step queues (each with a DLQ), the schedule group, and the scheduler role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        schedule_group_name: str,
        retention: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        # A consumer may hold a timer for its whole Lambda timeout: the queue must hide the
        # message for longer, or SQS hands it to a second consumer (functions/timeouts.py).
        visibility = Duration.seconds(timeouts.DELIVERY_QUEUE_VISIBILITY_SECONDS)
        delivery = _QueueWithDlq(
            self, "Delivery", visibility_timeout=visibility, dlq_retention=retention
        )
        step = _QueueWithDlq(self, "Step", visibility_timeout=visibility, dlq_retention=retention)
        self.delivery_queue = delivery.queue
        self.delivery_dlq = delivery.dead_letter_queue
        self.step_queue = step.queue
        self.step_dlq = step.dead_letter_queue

        self.schedule_group = scheduler.CfnScheduleGroup(
            self, "ScheduleGroup", name=schedule_group_name
        )
        self.schedule_group_name = schedule_group_name
        self.schedules_arn = schedules_in_group_arn(self, schedule_group_name)

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            description=(
                "EventBridge Scheduler sends due duetime timers to the duetime queues, or "
                "invokes dispatch with them"
            ),
            assumed_by=scheduler_principal(self, schedule_group_name),
        )
        # Only SendMessage: the scheduler never reads, deletes or inspects queue attributes.
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                resources=[self.delivery_queue.queue_arn, self.step_queue.queue_arn],
            )
        )

    def allow_scheduling(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` create, read and delete schedules in the group, targeting our role."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ],
                resources=[self.schedules_arn],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
            )
        )


class RecoveryClock(Construct):
    """Invokes the recover function every minute, with a role that may invoke only it."""

    def __init__(self, scope: Construct, construct_id: str, *, target: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        role = iam.Role(
            self,
            "Role",
            description="EventBridge Scheduler invokes the duetime recover function",
            assumed_by=scheduler_principal(self, DEFAULT_SCHEDULE_GROUP),
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[target.function_arn])
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description="duetime recovery: re-arm timers whose wake-up was lost",
            schedule_expression=RECOVERY_RATE,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            group_name=DEFAULT_SCHEDULE_GROUP,
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=target.function_arn,
                role_arn=role.role_arn,
                # The next tick is a minute away: retrying an old tick would only overlap it.
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=0, maximum_event_age_in_seconds=60
                ),
            ),
        )
        # The policy must exist before Scheduler validates the target at creation.
        self.schedule.node.add_dependency(role)
