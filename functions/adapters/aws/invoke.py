"""Asynchronous Lambda Invoke of the `dispatch` function, for timers that are due now."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from functions.adapters.aws import clients
from functions.adapters.aws.timers import InvokeUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_lambda import LambdaClient

# After a failed Invoke the process sends timers by the queue for this long before it tries
# again: a broken or slow Lambda endpoint then costs one publish its timeouts, not each of a
# batch's 100 messages or a URL group's endpoints in turn.
COOLDOWN_SECONDS = 30.0


class AsyncInvoke:
    """Hands a timer's JSON to `function_name` as an `Event` invocation.

    Lambda queues the event, answers 202 and retries a failed invocation twice; the function's
    on-failure destination (infra/functions.py) then puts it on the delivery queue. The client
    is made at the first call, so a cold start that arms nothing due now does not load the
    Lambda service model.
    """

    def __init__(
        self,
        *,
        function_name: str,
        region: str,
        cooldown_seconds: float = COOLDOWN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        make_client: Callable[[str], LambdaClient] = clients.lambda_,
    ) -> None:
        self._function_name = function_name
        self._region = region
        self._cooldown = cooldown_seconds
        self._monotonic = monotonic
        self._make_client = make_client
        self._client: LambdaClient | None = None
        self._retry_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, body: str) -> None:
        with self._lock:
            if self._monotonic() < self._retry_at:
                raise InvokeUnavailableError("a recent Invoke failed; cooling down")
        try:
            self._hand_over(body)
        except Exception:
            with self._lock:
                self._retry_at = self._monotonic() + self._cooldown
            raise

    def _hand_over(self, body: str) -> None:
        response = self._lambda().invoke(
            FunctionName=self._function_name, InvocationType="Event", Payload=body.encode()
        )
        if response["StatusCode"] != 202:
            raise RuntimeError(f"async invoke answered {response['StatusCode']}, not 202")

    def _lambda(self) -> LambdaClient:
        with self._lock:
            if self._client is None:
                self._client = self._make_client(self._region)
            return self._client
