"""The four functions: runtime, environment contract, event sources and least privilege."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.config import Settings
from tests.infra.synth import ALLOWED_HOSTS, DISPATCH_RESERVED_CONCURRENCY, Deployment

HANDLERS = ("schedule", "dispatch", "step", "recover")
REQUIRED_ENV = {
    "DUETIME_TABLE_NAME",
    "DUETIME_QUEUE_URL",
    "DUETIME_QUEUE_ARN",
    "DUETIME_STEP_QUEUE_URL",
    "DUETIME_STEP_QUEUE_ARN",
    "DUETIME_SCHEDULE_GROUP",
    "DUETIME_SCHEDULER_ROLE_ARN",
    "DUETIME_SIGNING_KEYS_SECRET_ID",
    "DUETIME_TOKEN_SECRET_ID",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


def _ref(value: Any) -> str:
    """A stable text for a CloudFormation value (Ref, GetAtt, Join) to compare resources by."""
    return json.dumps(value, sort_keys=True)


def _allowed(statements: list[dict[str, Any]], action: str) -> set[str]:
    """Resources the statements allow `action` on."""
    found: set[str] = set()
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if s["Effect"] == "Allow" and action in actions:
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            found.update(_ref(r) for r in resources)
    return found


def _environment(d: Deployment, handler: str) -> dict[str, Any]:
    _, function = d.function(handler)
    env: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return env


@pytest.mark.parametrize("handler", HANDLERS)
def test_functions_run_python_on_arm64(production: Deployment, handler: str) -> None:
    _, function = production.function(handler)
    props = function["Properties"]
    assert props["Architectures"] == ["arm64"]
    assert props["Runtime"].startswith("python3.")
    assert int(props["Runtime"].removeprefix("python3.")) >= 12


@pytest.mark.parametrize("handler", HANDLERS)
def test_environment_is_what_settings_from_env_reads(each: Deployment, handler: str) -> None:
    # Given a function's environment, with each CloudFormation value replaced by a placeholder
    # (an ARN-valued one that Settings checks is an ARN keeps the prefix)
    env = _environment(each, handler)
    assert set(env) >= REQUIRED_ENV
    arns = {"DUETIME_DISPATCH_FUNCTION"}
    plain = {
        k: v if isinstance(v, str) else f"arn:<{k}>" if k in arns else f"<{k}>"
        for k, v in env.items()
    }
    # When the application parses it
    settings = Settings.from_env(plain)
    # Then every setting comes from the deployment, not from a default
    assert settings.table_name == "<DUETIME_TABLE_NAME>"
    assert settings.queue_arn == "<DUETIME_QUEUE_ARN>"
    assert settings.schedule_group == "duetime"
    assert settings.token_secret_id == "<DUETIME_TOKEN_SECRET_ID>"
    if handler == "schedule":
        assert settings.dispatch_function == "arn:<DUETIME_DISPATCH_FUNCTION>"
    assert env["POWERTOOLS_SERVICE_NAME"] == env["POWERTOOLS_METRICS_NAMESPACE"] == "duetime"


def test_a_dispatch_function_named_without_its_arn_is_refused_at_start() -> None:
    # EventBridge Scheduler targets need the ARN: a bare name would fail at the first far-off
    # publish, so it fails when the settings are read
    with pytest.raises(ValueError, match="DUETIME_DISPATCH_FUNCTION must be the dispatch"):
        Settings.from_env({"DUETIME_DISPATCH_FUNCTION": "duetime-dispatch"})


def test_delivery_queue_env_points_at_the_queue_dispatch_consumes(each: Deployment) -> None:
    dispatch_id, _ = each.function("dispatch")
    (mapping,) = [
        m["Properties"]
        for m in each.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": dispatch_id}
    ]
    assert _environment(each, "schedule")["DUETIME_QUEUE_ARN"] == mapping["EventSourceArn"]


def test_allowed_hosts_reach_the_functions_only_when_configured(
    production: Deployment, sandbox: Deployment
) -> None:
    assert "DUETIME_ALLOWED_HOSTS" not in _environment(production, "dispatch")
    for handler in HANDLERS:
        assert _environment(sandbox, handler)["DUETIME_ALLOWED_HOSTS"] == ",".join(ALLOWED_HOSTS)


def test_queue_consumers_report_partial_batch_failures_with_bounded_concurrency(
    each: Deployment,
) -> None:
    mappings = each.resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["ScalingConfig"] == {"MaximumConcurrency": 100}
        assert props["BatchSize"] == 10
        assert props.get("MaximumBatchingWindowInSeconds", 0) == 0


def test_reserved_concurrency_caps_only_dispatch_and_only_when_set(each: Deployment) -> None:
    # function_url sets it; production (cdk.json) and sandbox leave the account's pool
    expected = DISPATCH_RESERVED_CONCURRENCY if each.name == "function_url" else None
    for handler in HANDLERS:
        _, fn = each.function(handler)
        reserved = fn["Properties"].get("ReservedConcurrentExecutions")
        assert reserved == (expected if handler == "dispatch" else None), handler


def test_only_the_api_function_reads_the_token_secret(each: Deployment) -> None:
    token = _ref(_environment(each, "schedule")["DUETIME_TOKEN_SECRET_ID"])
    signing = _ref(_environment(each, "schedule")["DUETIME_SIGNING_KEYS_SECRET_ID"])
    for handler in HANDLERS:
        function_id, _ = each.function(handler)
        readable = _allowed(each.role_statements(function_id), "secretsmanager:GetSecretValue")
        expected = {token, signing} if handler == "schedule" else {signing}
        assert readable == expected, handler


def test_only_the_api_function_writes_the_signing_keys(each: Deployment) -> None:
    # POST /v2/keys/rotate writes a new secret version; nothing else may.
    signing = _ref(_environment(each, "schedule")["DUETIME_SIGNING_KEYS_SECRET_ID"])
    for handler in HANDLERS:
        function_id, _ = each.function(handler)
        writable = _allowed(each.role_statements(function_id), "secretsmanager:PutSecretValue")
        assert writable == ({signing} if handler == "schedule" else set()), handler


def test_functions_send_only_to_the_queues_they_use(each: Deployment) -> None:
    delivery = _ref(_environment(each, "schedule")["DUETIME_QUEUE_ARN"])
    step = _ref(_environment(each, "schedule")["DUETIME_STEP_QUEUE_ARN"])
    expected = {
        "schedule": {delivery, step},
        "dispatch": {delivery},
        "step": {delivery, step},
        "recover": {delivery, step},
    }
    for handler, queues in expected.items():
        function_id, _ = each.function(handler)
        assert _allowed(each.role_statements(function_id), "sqs:SendMessage") == queues, handler


def test_scheduler_permissions_are_scoped_to_the_group_and_the_scheduler_role(
    each: Deployment,
) -> None:
    scheduler_role = _ref(_environment(each, "schedule")["DUETIME_SCHEDULER_ROLE_ARN"])
    for handler in HANDLERS:
        function_id, _ = each.function(handler)
        statements = each.role_statements(function_id)
        for action in (
            "scheduler:CreateSchedule",
            "scheduler:DeleteSchedule",
            "scheduler:GetSchedule",
        ):
            (resource,) = _allowed(statements, action)
            # A Fn::Join of tokens, or a literal ARN when the stack has an account and region
            assert resource.rstrip(']}"').endswith(":schedule/duetime/*"), resource
        assert _allowed(statements, "iam:PassRole") == {scheduler_role}
        (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
        assert pass_role["Condition"] == {
            "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
        }


def test_every_function_reads_and_writes_the_table(each: Deployment) -> None:
    table_id, _ = each.only("AWS::DynamoDB::Table")
    table_arn = _ref({"Fn::GetAtt": [table_id, "Arn"]})
    for handler in HANDLERS:
        function_id, _ = each.function(handler)
        statements = each.role_statements(function_id)
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"):
            assert table_arn in _allowed(statements, action), (handler, action)


def test_function_roles_use_no_managed_policies_and_log_to_their_own_group(
    each: Deployment,
) -> None:
    for handler in HANDLERS:
        function_id, function = each.function(handler)
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        assert not each.json["Resources"][role_id]["Properties"].get("ManagedPolicyArns")
        log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert _allowed(each.role_statements(function_id), "logs:PutLogEvents") == {
            _ref({"Fn::GetAtt": [log_group_id, "Arn"]})
        }


def test_only_the_api_invokes_dispatch_and_failed_invocations_reach_the_delivery_queue(
    each: Deployment,
) -> None:
    dispatch_id, _ = each.function("dispatch")
    dispatch_arn = _ref({"Fn::GetAtt": [dispatch_id, "Arn"]})
    # The API function knows dispatch by its ARN and may invoke exactly it; no function else may
    assert _ref(_environment(each, "schedule")["DUETIME_DISPATCH_FUNCTION"]) == dispatch_arn
    for handler in HANDLERS:
        function_id, _ = each.function(handler)
        invokable = _allowed(each.role_statements(function_id), "lambda:InvokeFunction")
        assert invokable == ({dispatch_arn} if handler == "schedule" else set()), handler
        if handler != "schedule":
            assert "DUETIME_DISPATCH_FUNCTION" not in _environment(each, handler), handler
    # Lambda retries twice, then the record goes to the queue dispatch consumes
    (props,) = [
        config["Properties"]
        for config in each.resources("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": dispatch_id}
    ]
    assert props["MaximumRetryAttempts"] == 2
    # A throttled burst waits at most 10 minutes before the capped queue takes it over
    assert props["MaximumEventAgeInSeconds"] == 10 * 60
    delivery = _ref(_environment(each, "schedule")["DUETIME_QUEUE_ARN"])
    assert _ref(props["DestinationConfig"]["OnFailure"]["Destination"]) == delivery
