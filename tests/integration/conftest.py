"""moto-backed fixtures: duetime's resources provisioned exactly as the dev server does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from functions import wiring
from functions.adapters.aws import aws_adapters
from functions.config import Settings
from functions.handlers import dispatch
from functions.local import moto_atomic, moto_speed
from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.pump import QueuePump
from functions.local.resources import LocalResources, provision
from tests.helpers.api import call

TOKEN = DEV_TOKEN
KEYS = DEV_SIGNING_KEYS


@dataclass(frozen=True)
class Aws:
    resources: LocalResources
    token: str


def install_aws() -> wiring.Graph:
    """Build the AWS graph from the environment (as a cold start would) and serve it."""
    settings = Settings.from_env()
    graph = wiring.build(settings, aws_adapters(settings))
    wiring.install(graph)
    return graph


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    moto_atomic.install()
    moto_speed.install()
    with mock_aws():
        resources = provision(KEYS)
        for name, value in resources.environment(token=TOKEN).items():
            monkeypatch.setenv(name, value)
        # Due-now timers go by the queue here, driven by hand; test_async_invoke.py sets it.
        monkeypatch.delenv("DUETIME_DISPATCH_FUNCTION", raising=False)
        install_aws()
        yield Aws(resources=resources, token=TOKEN)
    wiring.install(None)
    os.environ.pop("DUETIME_TABLE_NAME", None)


def delivery_pump(aws: Aws) -> QueuePump:
    """The dev server's queue pump over the delivery queue, driven by hand (poll_once)."""
    return QueuePump(
        sqs=boto3.client("sqs", region_name="us-east-1"),
        queue_url=aws.resources.queue_url,
        queue_arn=aws.resources.queue_arn,
        handler=dispatch.handler,
        workers=1,
        function_name="duetime-dispatch",
    )


def publish(aws: Aws, url: str, body: str = "payload", **headers: str) -> str:
    """Publish through the API; returns the message id."""
    response = call("POST", f"/v2/publish/{url}", token=aws.token, headers=headers, body=body)
    assert response.status == 201, response.json
    return str(response.json["messageId"])
