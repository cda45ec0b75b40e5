"""Alarms for every failure mode an operator must act on, and the dashboard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.synth import ALARM_TOPIC_ARN, Deployment

HANDLERS = ("schedule", "dispatch", "step", "recover")


def _alarms(d: Deployment) -> list[dict[str, Any]]:
    return [a["Properties"] for a in d.resources("AWS::CloudWatch::Alarm").values()]


def _fires_on_any(alarm: dict[str, Any]) -> bool:
    return bool(alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold")


def test_each_dead_letter_queue_alarms_on_its_first_message(each: Deployment) -> None:
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in each.resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in _alarms(each)
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible" and _fires_on_any(a)
    }
    assert watched == dlqs


def test_recovered_timers_alarm(each: Deployment) -> None:
    (alarm,) = [a for a in _alarms(each) if a.get("MetricName") == "recovered"]
    assert alarm["Namespace"] == "duetime"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "duetime"}]
    assert _fires_on_any(alarm)


def test_delivery_failure_rate_alarm_divides_failed_by_finished(each: Deployment) -> None:
    (alarm,) = [a for a in _alarms(each) if "Metrics" in a]
    expression = next(m for m in alarm["Metrics"] if "Expression" in m)["Expression"]
    metric_names = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert metric_names == {"failed": "timer_failed", "delivered": "timer_delivered"}
    assert "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(delivered, 0))" in expression
    assert alarm["Threshold"] == 5


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(each: Deployment, metric: str) -> None:
    watched = {
        a["Dimensions"][0]["Value"]["Ref"]
        for a in _alarms(each)
        if a.get("MetricName") == metric and a.get("Namespace") == "AWS/Lambda"
    }
    assert watched == {each.function(handler)[0] for handler in HANDLERS}


def test_dispatchs_async_invocations_alarm_when_dropped_undelivered_or_late(
    each: Deployment,
) -> None:
    dispatch = each.function("dispatch")[0]
    watched = {
        (a["MetricName"], a["Statistic"], a["Threshold"]): a["Dimensions"][0]["Value"]["Ref"]
        for a in _alarms(each)
        if a.get("MetricName", "").startswith(("Async", "Destination"))
    }
    assert watched == {
        ("AsyncEventsDropped", "Sum", 0): dispatch,
        ("DestinationDeliveryFailures", "Sum", 0): dispatch,
        ("AsyncEventAge", "Maximum", 60_000): dispatch,
    }


def test_dropped_eventbridge_timers_alarm_for_duetimes_schedule_group(each: Deployment) -> None:
    (alarm,) = [a for a in _alarms(each) if a.get("MetricName") == "InvocationDroppedCount"]
    assert alarm["Namespace"] == "AWS/Scheduler"
    assert alarm["Dimensions"] == [{"Name": "ScheduleGroup", "Value": "duetime"}]
    assert _fires_on_any(alarm)


def test_alarms_notify_the_topic_only_when_one_is_given(
    production: Deployment, function_url: Deployment
) -> None:
    assert all(not a.get("AlarmActions") for a in _alarms(production))
    for alarm in _alarms(function_url):
        assert alarm["AlarmActions"] == [ALARM_TOPIC_ARN]
        assert alarm["OKActions"] == [ALARM_TOPIC_ARN]


def test_dashboard_exists(each: Deployment) -> None:
    each.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
