"""One CDK app per test session, three deployments of it, synthesized once.

production    as app.py builds it from cdk.json (HTTP API, RETAIN, deletion protection), in
              an account and region, as `cdk deploy` synthesizes it
sandbox       .as_sandbox() with an allow-list of destination hosts, environment-agnostic
function_url  sandbox behind a Lambda function URL, alarms sent to an SNS topic, dispatch
              with reserved concurrency

Bundling is skipped (`aws:cdk:bundling-stacks: []`): these tests read templates; the bundle
itself is built by test_bundling.py. cdk-nag runs as in app.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# jsii starts node on the first aws_cdk import: silence its Node 20 banner before that.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra import DuetimeProps, DuetimeStack, props_from_context
from tests.infra.synth import (
    ALARM_TOPIC_ARN,
    ALLOWED_HOSTS,
    DISPATCH_RESERVED_CONCURRENCY,
    PRODUCTION_ENV,
    Deployment,
    Deployments,
)

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bundling: builds the real Lambda bundle with pip (PyPI or the pip cache)"
    )


def cdk_json_context() -> dict[str, Any]:
    """The feature flags and settings `cdk deploy` would use."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@pytest.fixture(scope="session")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Deployments:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(
        outdir=str(outdir),
        context={**cdk_json_context(), "aws:cdk:bundling-stacks": []},
    )
    stacks = {
        # With an account and region, as `cdk deploy` synthesizes it: ARNs become literals.
        "production": DuetimeStack(
            app, "Production", props=props_from_context(app.node), env=PRODUCTION_ENV
        ),
        "sandbox": DuetimeStack(
            app,
            "Sandbox",
            props=DuetimeProps(allowed_destination_hosts=ALLOWED_HOSTS).as_sandbox(),
        ),
        "function_url": DuetimeStack(
            app,
            "FunctionUrl",
            props=DuetimeProps(
                api="function_url",
                alarm_topic_arn=ALARM_TOPIC_ARN,
                dispatch_reserved_concurrency=DISPATCH_RESERVED_CONCURRENCY,
            ).as_sandbox(),
        ),
    }
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
    return Deployments(
        **{
            name: Deployment(
                name=name, stack=stack, template=Template.from_stack(stack), outdir=outdir
            )
            for name, stack in stacks.items()
        }
    )


@pytest.fixture(scope="session")
def production(deployments: Deployments) -> Deployment:
    return deployments.production


@pytest.fixture(scope="session")
def sandbox(deployments: Deployments) -> Deployment:
    return deployments.sandbox


@pytest.fixture(scope="session")
def function_url(deployments: Deployments) -> Deployment:
    return deployments.function_url


@pytest.fixture(scope="session", params=["production", "sandbox", "function_url"])
def each(request: pytest.FixtureRequest, deployments: Deployments) -> Deployment:
    """Every deployment, one at a time."""
    deployment: Deployment = getattr(deployments, request.param)
    return deployment
