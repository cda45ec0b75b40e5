"""The front door: an HTTP API (throttled, access-logged) or a Lambda function URL.

Either way the schedule function authenticates every request itself (bearer token, like
QStash), so neither front door has an authorizer.
"""

from __future__ import annotations

import json
from typing import Protocol

import jsii
from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import suppress

API_ROUTE = "/v2/{proxy+}"
# The web console's page and assets (functions/api/console.py): GET only, served without a token.
CONSOLE_ROUTES = ("/console", "/console/{proxy+}")
_BEARER_AUTH = (
    "duetime authenticates every request in the schedule function with a bearer token "
    "(Authorization header or qstash_token), exactly as QStash clients send it; an API Gateway "
    "authorizer would add a second, incompatible auth scheme and a cold start per request."
)
_STATIC_CONSOLE = (
    "the console routes serve a few static files that hold no data: the page asks for the "
    "bearer token and reads everything through the token-protected /v2 routes."
)
# JSON access log. No query string or headers: a token may travel as ?qstash_token=.
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


class FrontDoor(Protocol):
    """What the rest of the deployment needs from a front door."""

    @property
    def url(self) -> str: ...


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS))


class HttpApiFrontDoor(Construct):
    """HTTP API, payload 2.0: ANY /v2/{proxy+} and GET /console[/…] to the schedule
    function; throttled stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        rate_limit: int,
        burst_limit: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(
            self,
            "Api",
            description="duetime: QStash v2 compatible publish API",
            # The stage is declared below: the default one cannot carry throttling.
            create_default_stage=False,
        )
        integration = integrations.HttpLambdaIntegration(
            "Schedule",
            handler,
            payload_format_version=apigw.PayloadFormatVersion.VERSION_2_0,
        )
        routes = self.api.add_routes(
            path=API_ROUTE, methods=[apigw.HttpMethod.ANY], integration=integration
        )
        console_routes = [
            route
            for path in CONSOLE_ROUTES
            for route in self.api.add_routes(
                path=path, methods=[apigw.HttpMethod.GET], integration=integration
            )
        ]
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=removal_policy
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=_AccessLogs(access_logs),
        )
        for route in routes:
            suppress(route, "AwsSolutions-APIG4", _BEARER_AUTH)
        for route in console_routes:
            suppress(route, "AwsSolutions-APIG4", _STATIC_CONSOLE)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash (the `$default` stage is served at the root)."""
        return self.api.api_endpoint


class FunctionUrlFrontDoor(Construct):
    """A Lambda function URL: no API Gateway, no throttling, no 30-second integration limit."""

    def __init__(self, scope: Construct, construct_id: str, *, handler: lambda_.Function) -> None:
        super().__init__(scope, construct_id)
        self.function_url = handler.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )

    @property
    def url(self) -> str:
        """Base URL without the trailing slash Lambda puts on function URLs."""
        host = Fn.select(2, Fn.split("/", self.function_url.url))
        return Fn.join("", ["https://", host])
