"""Asynchronous Lambda Invoke of the `dispatch` function, for timers that are due now."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from functions.adapters.aws import clients

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class AsyncInvoke:
    """Hands a timer's JSON to `function_name` as an `Event` invocation.

    Lambda queues the event, answers 202 and retries a failed invocation twice; the function's
    on-failure destination (infra/functions.py) then puts it on the delivery queue. The client
    is made at the first call, so a cold start that arms nothing due now does not load the
    Lambda service model.
    """

    def __init__(self, *, function_name: str, region: str) -> None:
        self._function_name = function_name
        self._region = region
        self._client: LambdaClient | None = None
        self._lock = threading.Lock()

    def __call__(self, body: str) -> None:
        response = self._lambda().invoke(
            FunctionName=self._function_name, InvocationType="Event", Payload=body.encode()
        )
        if response["StatusCode"] != 202:
            raise RuntimeError(f"async invoke answered {response['StatusCode']}, not 202")

    def _lambda(self) -> LambdaClient:
        with self._lock:
            if self._client is None:
                self._client = clients.lambda_(self._region)
            return self._client
