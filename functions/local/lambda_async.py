"""Lambda's asynchronous invocation, emulated for moto (which runs functions only in Docker).

An `Event` Invoke of a registered function answers 202 and runs its handler on a worker
thread, as Lambda's internal queue does. A handler that raises is retried `retries` times;
then Lambda's destination record for it goes to the function's on-failure queue, as the
deployment configures it (infra/functions.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from functions.adapters.aws import clients
from functions.local.lambda_context import LocalContext
from functions.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Handler = Callable[[dict[str, Any], Any], Any]
_EVENT = "before-call.lambda.Invoke"
_PATH_PREFIX = "/2015-03-31/functions/"


@dataclass(frozen=True)
class EmulatedFunction:
    handler: Handler
    # Where a destination record goes once the retries ran out (None: dropped, and logged).
    on_failure_queue_url: str | None = None


class AsyncInvokeEmulator:
    """Answers `lambda:Invoke(InvocationType="Event")` for the registered functions.

    `install()` registers it on the shared botocore session (functions/adapters/aws/clients.py),
    so it serves Lambda clients made after that; `drain()` waits until every accepted
    invocation, retries included, has ended.
    """

    def __init__(
        self,
        *,
        functions: dict[str, EmulatedFunction],
        sqs: SQSClient,
        workers: int = 8,
        retries: int = 2,
        retry_delay_seconds: float = 0.0,
    ) -> None:
        self._functions = functions
        self._sqs = sqs
        self._retries = retries
        self._retry_delay = retry_delay_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="async-invoke")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self.accepted = 0

    def install(self) -> None:
        clients.session().register(_EVENT, self._on_invoke, unique_id=f"emulator-{id(self)}")

    def uninstall(self) -> None:
        clients.session().unregister(_EVENT, unique_id=f"emulator-{id(self)}")

    def start(self) -> None:
        self.install()

    def stop(self) -> None:
        self.uninstall()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def drain(self, timeout_seconds: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                future.result(timeout=max(0.0, deadline - time.monotonic()))

    def _on_invoke(self, **kwargs: Any) -> Any:
        # botocore's before-call: an answer returned here is the call's, and nothing is sent.
        params: dict[str, Any] = kwargs["params"]
        called = unquote(str(params["url_path"])[len(_PATH_PREFIX) :].split("/", 1)[0])
        name = called.rsplit(":", 1)[-1]  # FunctionName may be the name or the ARN
        function = self._functions.get(name)
        if params["headers"].get("X-Amz-Invocation-Type") != "Event" or function is None:
            raise NotImplementedError(f"only Event invokes of {sorted(self._functions)} emulated")
        event = json.loads(params["body"] or b"{}")
        future = self._pool.submit(self._run, name, function, event)
        with self._lock:
            self._pending.add(future)
            self.accepted += 1
        future.add_done_callback(self._forget)
        http = AWSResponse(params["url"], 202, HTTPHeaders(), None)
        return http, {"StatusCode": 202, "ResponseMetadata": {"HTTPStatusCode": 202}}

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, name: str, function: EmulatedFunction, event: dict[str, Any]) -> None:
        for attempt in range(1 + self._retries):
            if attempt:
                time.sleep(self._retry_delay * attempt)
            try:
                function.handler(event, LocalContext(function_name=name))
            except Exception as exc:  # Lambda records any error and retries
                logger.warning("async invocation failed", extra={"function": name}, exc_info=True)
                error = exc
            else:
                return
        self._send_to_failure_destination(name, function, event, error, attempts=1 + self._retries)

    def _send_to_failure_destination(
        self,
        name: str,
        function: EmulatedFunction,
        event: dict[str, Any],
        error: Exception,
        *,
        attempts: int,
    ) -> None:
        if function.on_failure_queue_url is None:
            logger.error("async invocation dropped after its retries", extra={"function": name})
            return
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": LocalContext(function_name=name).invoked_function_arn,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
        }
        self._sqs.send_message(
            QueueUrl=function.on_failure_queue_url, MessageBody=json.dumps(record)
        )
