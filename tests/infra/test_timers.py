"""Queues, dead-letter queues, the schedule group, the scheduler role and the recovery clock."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.synth import ACCOUNT, Deployment

FOURTEEN_DAYS = 14 * 24 * 3600


def _queues_with_redrive(d: Deployment) -> dict[str, dict[str, Any]]:
    return {
        logical_id: queue
        for logical_id, queue in d.resources("AWS::SQS::Queue").items()
        if "RedrivePolicy" in queue["Properties"]
    }


def _consumer_of(d: Deployment, queue_id: str) -> dict[str, Any]:
    """The function an event source mapping feeds from `queue_id`."""
    for mapping in d.resources("AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        if props["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}:
            function_id = props["FunctionName"]["Ref"]
            function: dict[str, Any] = d.json["Resources"][function_id]
            return function
    raise AssertionError(f"no consumer for {queue_id}")


def test_each_queue_moves_failures_to_its_own_dlq_after_five_receives(each: Deployment) -> None:
    # Given the delivery and step queues
    queues = _queues_with_redrive(each)
    assert len(queues) == 2
    # Then each redrives to a distinct DLQ after 5 receives, kept 14 days
    dlqs = set()
    for queue in queues.values():
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == 5
        dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        dlqs.add(dlq_id)
        dlq = each.json["Resources"][dlq_id]["Properties"]
        assert dlq["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert len(dlqs) == 2


def test_every_queue_is_encrypted_and_refuses_plain_http(each: Deployment) -> None:
    queues = each.resources("AWS::SQS::Queue")
    assert len(queues) == 4
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    policies = each.resources("AWS::SQS::QueuePolicy").values()
    protected = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                protected.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert protected == set(queues)


def test_visibility_timeout_outlasts_the_consumer_timeout(each: Deployment) -> None:
    # Computed from the template, not from functions/timeouts.py: what is deployed must hold.
    queues = _queues_with_redrive(each)
    for queue_id, queue in queues.items():
        consumer = _consumer_of(each, queue_id)
        visibility = queue["Properties"]["VisibilityTimeout"]
        timeout = consumer["Properties"]["Timeout"]
        assert visibility > timeout, (queue_id, visibility, timeout)
    handlers = {_consumer_of(each, queue_id)["Properties"]["Handler"] for queue_id in queues}
    assert handlers == {"functions.handlers.dispatch.handler", "functions.handlers.step.handler"}


def test_schedule_group_is_named_by_the_props(each: Deployment) -> None:
    each.template.has_resource_properties("AWS::Scheduler::ScheduleGroup", {"Name": "duetime"})


def test_scheduler_role_may_only_send_to_the_two_queues_and_invoke_dispatch(
    each: Deployment,
) -> None:
    # Given the role the functions pass to EventBridge Scheduler
    _, function = each.function("dispatch")
    role_id = function["Properties"]["Environment"]["Variables"]["DUETIME_SCHEDULER_ROLE_ARN"][
        "Fn::GetAtt"
    ][0]
    # Then it trusts only EventBridge Scheduler of this account and schedule group
    role = each.json["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] in (
        {"Ref": "AWS::AccountId"},
        ACCOUNT,
    )
    assert "schedule-group/duetime" in str(trust["Condition"]["ArnEquals"]["aws:SourceArn"])
    # And its only permissions are sqs:SendMessage on the delivery and step queues, and
    # lambda:InvokeFunction on dispatch (the API's far-off timers invoke it directly)
    send, invoke = each.policy_statements(role_id)
    assert (send["Effect"], invoke["Effect"]) == ("Allow", "Allow")
    assert send["Action"] == "sqs:SendMessage"
    queue_arns = [{"Fn::GetAtt": [queue_id, "Arn"]} for queue_id in _queues_with_redrive(each)]
    assert sorted(map(str, send["Resource"])) == sorted(map(str, queue_arns))
    dispatch_id, _ = each.function("dispatch")
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"] == {"Fn::GetAtt": [dispatch_id, "Arn"]}
    assert not role.get("ManagedPolicyArns")


def test_recovery_runs_every_minute_on_time(each: Deployment) -> None:
    recover_id, _ = each.function("recover")
    each.template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": Match.object_like({"Arn": {"Fn::GetAtt": [recover_id, "Arn"]}}),
        },
    )


def test_recovery_clock_role_may_invoke_only_the_recover_function(each: Deployment) -> None:
    recover_id, _ = each.function("recover")
    _, schedule = each.only("AWS::Scheduler::Schedule")
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    assert [
        {"Action": s["Action"], "Resource": s["Resource"]} for s in each.policy_statements(role_id)
    ] == [{"Action": "lambda:InvokeFunction", "Resource": {"Fn::GetAtt": [recover_id, "Arn"]}}]
