"""What tests read from a synthesized duetime stack (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk import Environment
from aws_cdk.assertions import Template

from infra import DuetimeStack

ACCOUNT = "123456789012"
PRODUCTION_ENV = Environment(account=ACCOUNT, region="eu-west-1")
ALARM_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:duetime-alarms"
ALLOWED_HOSTS = ("example.com", "hooks.example.org")
DISPATCH_RESERVED_CONCURRENCY = 250


@dataclass(frozen=True)
class Deployment:
    """A synthesized stack and what tests read from it."""

    name: str
    stack: DuetimeStack
    template: Template
    outdir: Path

    @cached_property
    def json(self) -> dict[str, Any]:
        """The template, read once through jsii (every later lookup is plain Python)."""
        return dict(self.template.to_json())

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == cfn_type
        }

    def only(self, cfn_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(cfn_type)
        assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def function(self, handler: str) -> tuple[str, dict[str, Any]]:
        """The Lambda function whose handler is `functions.handlers.<handler>.handler`."""
        full = f"functions.handlers.{handler}.handler"
        matches = {
            logical_id: resource
            for logical_id, resource in self.resources("AWS::Lambda::Function").items()
            if resource["Properties"].get("Handler") == full
        }
        assert len(matches) == 1, f"expected one function with handler {full}"
        return next(iter(matches.items()))

    def role_statements(self, function_logical_id: str) -> list[dict[str, Any]]:
        """Every policy statement attached to a function's role."""
        function = self.json["Resources"][function_logical_id]
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        return self.policy_statements(role_id)

    def policy_statements(self, role_logical_id: str) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = []
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
                statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
        return statements


@dataclass(frozen=True)
class Deployments:
    production: Deployment
    sandbox: Deployment
    function_url: Deployment

    def all(self) -> tuple[Deployment, ...]:
        return (self.production, self.sandbox, self.function_url)
