"""moto-backed fixtures: duetime's resources provisioned exactly as the dev server does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from moto import mock_aws

from functions import runtime
from functions.local import moto_atomic, moto_speed
from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.resources import LocalResources, provision

TOKEN = DEV_TOKEN
KEYS = DEV_SIGNING_KEYS


@dataclass(frozen=True)
class Aws:
    resources: LocalResources
    token: str


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    moto_atomic.install()
    moto_speed.install()
    with mock_aws():
        resources = provision(KEYS)
        for name, value in resources.environment(token=TOKEN).items():
            monkeypatch.setenv(name, value)
        runtime.reset()
        yield Aws(resources=resources, token=TOKEN)
    runtime.reset()
    os.environ.pop("DUETIME_TABLE_NAME", None)
