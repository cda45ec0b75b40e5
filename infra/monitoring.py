"""Alarms and a dashboard for what an operator must act on.

    DLQ depth > 0          a timer failed MAX_RECEIVE_COUNT times: inspect and redrive
    recovered > 0          a wake-up was lost and recovery re-armed it: find out why
    delivery failure rate  share of finished deliveries that exhausted their retries
    errors / throttles     per function
    schedules dropped      EventBridge Scheduler gave up on a one-time timer (retries spent)
    async events           dispatch's async invocations (the API's for messages due now, and
                           its EventBridge schedules'): dropped, not handed to the delivery
                           queue, or waiting over a minute

The custom metrics come from Powertools in the functions: namespace `duetime`, dimension
`service=duetime` (functions/observability.py, functions/handlers/dispatch.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

NAMESPACE = "duetime"
SERVICE_DIMENSION = {"service": "duetime"}
PERIOD = Duration.minutes(5)
DLQ_PERIOD = Duration.minutes(1)


def service_metric(name: str, *, period: Duration = PERIOD) -> cloudwatch.Metric:
    """A Powertools metric of the duetime service, summed over `period`."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=SERVICE_DIMENSION,
        statistic=cloudwatch.Stats.SUM,
        period=period,
    )


class Monitoring(Construct):
    """One alarm per failure mode, all sent to `alarm_actions`, and one dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        async_invoked: Mapping[str, lambda_.IFunction],
        schedule_group_name: str,
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        failure_rate_threshold_percent: float,
        alarm_actions: Sequence[cloudwatch.IAlarmAction],
    ) -> None:
        super().__init__(scope, construct_id)
        self._actions = tuple(alarm_actions)
        self.alarms: list[cloudwatch.Alarm] = []

        for name, dlq in dead_letter_queues.items():
            self._alarm(
                f"{name}DlqDepth",
                dlq.metric_approximate_number_of_messages_visible(
                    period=DLQ_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                description=(
                    f"duetime {name} timers are in the dead-letter queue: they failed "
                    "repeatedly. Inspect them, fix the cause, then redrive."
                ),
            )

        recovered = service_metric("recovered")
        self._alarm(
            "Recovered",
            recovered,
            threshold=0,
            description=(
                "duetime recovery re-armed timers whose wake-up was lost (a failed arm or a "
                "deleted schedule). Deliveries were late; look for errors in schedule/dispatch."
            ),
        )

        delivered, failed = service_metric("timer_delivered"), service_metric("timer_failed")
        failure_rate = cloudwatch.MathExpression(
            expression=(
                "IF((FILL(failed, 0) + FILL(delivered, 0)) > 0, "
                "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(delivered, 0)), 0)"
            ),
            using_metrics={"failed": failed, "delivered": delivered},
            label="Delivery failure rate (%)",
            period=PERIOD,
        )
        self._alarm(
            "DeliveryFailureRate",
            failure_rate,
            threshold=failure_rate_threshold_percent,
            description=(
                f"More than {failure_rate_threshold_percent}% of duetime deliveries that "
                "finished in 5 minutes failed for good (retries exhausted)."
            ),
        )

        for name, fn in functions.items():
            self._alarm(
                f"{name.capitalize()}Errors",
                fn.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                description=f"The duetime {name} function raised errors.",
            )
            self._alarm(
                f"{name.capitalize()}Throttles",
                fn.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                description=f"The duetime {name} function was throttled.",
            )

        for name, fn in async_invoked.items():
            self._async_alarms(name.capitalize(), fn)

        group = scheduler.ScheduleGroup.from_schedule_group_name(
            self, "TimerGroup", schedule_group_name
        )
        self._alarm(
            "SchedulesDropped",
            group.metric_dropped(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=0,
            description=(
                "EventBridge Scheduler stopped trying to hand duetime timers to their target "
                "(a queue or dispatch) after its retries: recovery re-arms those messages once "
                "they are overdue, so their deliveries are late. Check the scheduler role."
            ),
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Timer outcomes",
                left=[
                    service_metric(f"timer_{outcome}")
                    for outcome in ("delivered", "retry", "failed", "rearmed", "skipped")
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Delivery failure rate (%) and recovered",
                left=[failure_rate],
                right=[recovered],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue backlog",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=DLQ_PERIOD)
                    for q in queues.values()
                ],
                right=[
                    q.metric_approximate_age_of_oldest_message(period=DLQ_PERIOD)
                    for q in queues.values()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=DLQ_PERIOD)
                    for q in dead_letter_queues.values()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[fn.metric_invocations(period=PERIOD) for fn in functions.values()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Errors and throttles",
                left=[fn.metric_errors(period=PERIOD) for fn in functions.values()],
                right=[fn.metric_throttles(period=PERIOD) for fn in functions.values()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Duration p99",
                left=[
                    fn.metric_duration(period=PERIOD, statistic=cloudwatch.Stats.p(99))
                    for fn in functions.values()
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)
        )

    def _async_alarms(self, name: str, fn: lambda_.IFunction) -> None:
        """Lambda's own metrics of a function's asynchronous invocations (the API starts
        `dispatch` by async Invoke for messages due now, and its EventBridge schedules invoke
        it for far-off ones)."""
        who = f"duetime {name.lower()}"
        for metric, statistic, threshold, description in (
            (
                "AsyncEventsDropped",
                cloudwatch.Stats.SUM,
                0,
                f"Lambda dropped async invocations of {who}: their timers are lost until "
                "recovery finds the messages overdue.",
            ),
            (
                "DestinationDeliveryFailures",
                cloudwatch.Stats.SUM,
                0,
                f"Async invocations of {who} that ran out of retries could not be put on the "
                "delivery queue (its on-failure destination).",
            ),
            (
                "AsyncEventAge",
                cloudwatch.Stats.MAXIMUM,
                60_000,  # milliseconds
                f"Async invocations of {who} waited over a minute in Lambda's queue (throttled "
                "or failing): deliveries due now are late (a far-off timer's, which fire "
                "minutes early, are late only past the lead).",
            ),
        ):
            self._alarm(
                f"{name}{metric}",
                fn.metric(metric, period=PERIOD, statistic=statistic),
                threshold=threshold,
                description=description,
            )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # No data is no traffic, not a failure.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        for action in self._actions:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        self.alarms.append(alarm)
