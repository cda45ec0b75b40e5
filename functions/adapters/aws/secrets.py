"""Secret strings from Secrets Manager, kept for a short time in the execution environment.

Hand-written on purpose: Powertools' parameters utility imports boto3, and boto3 imports
s3transfer, which cost every cold start about 50 ms for what is here a dict with expiry times.
The clients are botocore's (see functions/adapters/aws/clients.py)."""

from __future__ import annotations

import threading
from time import monotonic  # a module attribute, so bench/cost.py can make it virtual
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class CachedSecrets:
    """`get(secret_id, max_age)` reads Secrets Manager at most once per `max_age` seconds."""

    def __init__(self, client: SecretsManagerClient) -> None:
        self.client = client
        self._values: dict[str, tuple[float, str]] = {}  # id -> (read at, monotonic s; value)
        self._lock = threading.Lock()

    def get(self, secret_id: str, *, max_age: int) -> str:
        with self._lock:
            cached = self._values.get(secret_id)
        if cached is not None and monotonic() - cached[0] < max_age:
            return cached[1]
        answer = self.client.get_secret_value(SecretId=secret_id)
        value = answer.get("SecretString")
        if value is None:
            value = answer["SecretBinary"].decode()
        with self._lock:
            self._values[secret_id] = (monotonic(), value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
