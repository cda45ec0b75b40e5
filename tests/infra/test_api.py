"""The front door: HTTP API by default, a function URL when asked; the stack outputs."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.infra.synth import Deployment


def test_http_api_routes_everything_under_v2_to_the_schedule_function(
    production: Deployment,
) -> None:
    schedule_id, _ = production.function("schedule")
    production.template.has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "ANY /v2/{proxy+}"}
    )
    production.template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {
            "IntegrationType": "AWS_PROXY",
            "PayloadFormatVersion": "2.0",
            "IntegrationUri": {"Fn::GetAtt": [schedule_id, "Arn"]},
        },
    )


def test_http_api_routes_the_console_by_get_to_the_same_integration(
    production: Deployment,
) -> None:
    # Given the HTTP API's routes
    routes = {
        route["Properties"]["RouteKey"]: route["Properties"]["Target"]
        for route in production.resources("AWS::ApiGatewayV2::Route").values()
    }
    # Then the console's page and assets reach the schedule function, and only by GET
    assert set(routes) == {"ANY /v2/{proxy+}", "GET /console", "GET /console/{proxy+}"}
    assert routes["GET /console"] == routes["ANY /v2/{proxy+}"]
    assert routes["GET /console/{proxy+}"] == routes["ANY /v2/{proxy+}"]


def test_http_api_default_stage_is_throttled_and_access_logged(production: Deployment) -> None:
    _, stage = production.only("AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": 2000,
        "ThrottlingBurstLimit": 4000,
    }
    log_format = json.loads(props["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    # A token may travel in ?qstash_token=: the access log must not carry the query string.
    assert not any("querystring" in value.lower() for value in log_format.values())


def test_function_url_replaces_the_http_api_and_leaves_auth_to_the_handler(
    function_url: Deployment,
) -> None:
    schedule_id, _ = function_url.function("schedule")
    function_url.template.resource_count_is("AWS::ApiGatewayV2::Api", 0)
    function_url.template.has_resource_properties(
        "AWS::Lambda::Url",
        {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": [schedule_id, "Arn"]}},
    )
    # Public function URLs need both permissions; the second only via the URL.
    function_url.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "*", "InvokedViaFunctionUrl": True},
    )


def test_outputs_give_the_operator_url_secrets_and_table(each: Deployment) -> None:
    outputs = each.template.find_outputs("*")
    assert {
        "ApiUrl",
        "ApiTokenSecretArn",
        "SigningKeysSecretArn",
        "TableName",
        "DeliveryDlqUrl",
        "DashboardName",
    } <= set(outputs)
    token_id, _ = next(
        (k, v)
        for k, v in each.resources("AWS::SecretsManager::Secret").items()
        if "GenerateStringKey" not in v["Properties"]["GenerateSecretString"]
    )
    assert outputs["ApiTokenSecretArn"]["Value"] == {"Ref": token_id}


def test_api_url_has_no_trailing_slash(each: Deployment) -> None:
    # The SDKs append "/v2/publish/...": a trailing slash would make it "//v2/...".
    url = each.template.find_outputs("ApiUrl")["ApiUrl"]["Value"]
    assert not json.dumps(url).endswith('/"]]}')
    assert not (isinstance(url, str) and url.endswith("/"))


def test_secrets_are_generated_in_the_shape_functions_keys_reads(each: Deployment) -> None:
    each.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": {
                "SecretStringTemplate": "{}",
                "GenerateStringKey": "material",
                "PasswordLength": 64,
                "ExcludePunctuation": True,
                "IncludeSpace": False,
            }
        },
    )
    each.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": Match.object_equals(
                {"PasswordLength": 48, "ExcludePunctuation": True, "IncludeSpace": False}
            )
        },
    )
