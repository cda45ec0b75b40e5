"""botocore clients from one shared session.

Not boto3: boto3 adds only import time here (it imports s3transfer, ~50 ms of each cold
start), and one session loads botocore's endpoint and service data once for every client."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

_session: botocore.session.Session | None = None
_lock = threading.Lock()  # botocore sessions are not thread-safe while creating clients


def session() -> botocore.session.Session:
    """The process's session. Handlers registered on it reach every client made after."""
    global _session  # noqa: PLW0603 - one session per process, made on first use
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session


# The Invoke of a timer due now has SendMessage as its fallback, so a slow Lambda endpoint
# costs a publish a few seconds at most, not botocore's default 60 s read and 5 attempts; no
# retry either, since the fallback is as good as a second attempt.
_INVOKE_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1, "mode": "standard"}
)


def _client(service: str, region: str, config: Config | None = None) -> Any:
    shared = session()
    with _lock:
        return shared.create_client(service, region_name=region, config=config)


def sqs(region: str) -> SQSClient:
    return _client("sqs", region)  # type: ignore[no-any-return]


def scheduler(region: str) -> EventBridgeSchedulerClient:
    return _client("scheduler", region)  # type: ignore[no-any-return]


def secretsmanager(region: str) -> SecretsManagerClient:
    return _client("secretsmanager", region)  # type: ignore[no-any-return]


def lambda_(region: str) -> LambdaClient:
    return _client("lambda", region, _INVOKE_CONFIG)  # type: ignore[no-any-return]
