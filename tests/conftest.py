"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# No test may reach AWS: fake credentials before anything creates a boto3 client.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "duetime",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_PROFILE", None)

from tests.helpers.receiver import Receiver

# What users of duetime add to their own conftest.py: the `duetime_server` fixture.
pytest_plugins = ["duetime.testing"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
