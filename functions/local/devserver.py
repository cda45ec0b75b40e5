"""`duetime dev --aws-emulation`: the four handlers and the AWS adapters on 127.0.0.1, with moto
in-process standing in for AWS (the embedded engine in embedded.py is the default)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
from moto import mock_aws

from functions import wiring
from functions.adapters.aws import aws_adapters
from functions.adapters.aws.invoke import AsyncInvoke
from functions.config import Settings
from functions.local import console, moto_atomic, moto_speed
from functions.local.banner import banner
from functions.local.defaults import DEV_PORT, DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.gateway import serve
from functions.local.lambda_async import AsyncInvokeEmulator, EmulatedFunction
from functions.local.pump import Periodic, QueuePump, SchedulerClock, invoke_every
from functions.local.resources import (
    DISPATCH_FUNCTION,
    DISPATCH_FUNCTION_ARN,
    REGION,
    LocalResources,
    fake_credentials,
    provision,
)

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from functions.domain.signing import SigningKeys


@dataclass
class DevServer:
    host: str = "127.0.0.1"
    port: int = DEV_PORT
    token: str = DEV_TOKEN
    keys: SigningKeys = DEV_SIGNING_KEYS
    eventbridge_jitter: bool = False
    workers: int = 8
    sqs_horizon_seconds: int = 900
    eventbridge_lead_seconds: int = 120
    allowed_hosts: tuple[str, ...] = ()
    recover_every_seconds: float = 60.0
    resources: LocalResources | None = field(default=None, init=False)
    _http: ThreadingHTTPServer | None = field(default=None, init=False)
    _parts: list[QueuePump | SchedulerClock | Periodic | AsyncInvokeEmulator] = field(
        default_factory=list, init=False
    )

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("start() the dev server first")
        return f"http://{self.host}:{self._http.server_address[1]}"

    def start(self) -> None:
        fake_credentials()
        moto_atomic.install()
        moto_speed.install()
        self._mock = mock_aws()
        self._mock.start()
        self.resources = provision(self.keys)
        os.environ.update(self.resources.environment(token=self.token))
        os.environ["DUETIME_SQS_HORIZON_SECONDS"] = str(self.sqs_horizon_seconds)
        os.environ["DUETIME_EVENTBRIDGE_LEAD_SECONDS"] = str(self.eventbridge_lead_seconds)
        os.environ["DUETIME_ALLOWED_HOSTS"] = ",".join(self.allowed_hosts)
        # Timers due now invoke dispatch, and far-off ones are schedules that do, as the
        # deployed API's (emulated below).
        os.environ["DUETIME_DISPATCH_FUNCTION"] = DISPATCH_FUNCTION_ARN
        settings = Settings.from_env()
        wiring.install(wiring.build(settings, aws_adapters(settings)))
        # Imported after the environment is set: handlers read it once, as on a cold start.
        from functions.handlers import dispatch, recover, schedule, step  # noqa: PLC0415

        sqs = boto3.client("sqs", region_name=REGION)
        self._parts = [
            AsyncInvokeEmulator(
                functions={
                    DISPATCH_FUNCTION: EmulatedFunction(
                        handler=dispatch.handler, on_failure_queue_url=self.resources.queue_url
                    )
                },
                sqs=sqs,
                workers=self.workers,
                retry_delay_seconds=1.0,
            ),
            QueuePump(
                sqs=sqs,
                queue_url=self.resources.queue_url,
                queue_arn=self.resources.queue_arn,
                handler=dispatch.handler,
                workers=self.workers,
                function_name=DISPATCH_FUNCTION,
            ),
            QueuePump(
                sqs=sqs,
                queue_url=self.resources.step_queue_url,
                queue_arn=self.resources.step_queue_arn,
                handler=step.handler,
                workers=self.workers,
                function_name="duetime-step",
            ),
            SchedulerClock(
                scheduler=boto3.client("scheduler", region_name=REGION),
                sqs=sqs,
                group=self.resources.schedule_group,
                jitter=self.eventbridge_jitter,
                invoke=AsyncInvoke(function_name=DISPATCH_FUNCTION_ARN, region=REGION),
            ),
            invoke_every(
                recover.handler,
                interval_seconds=self.recover_every_seconds,
                function_name="duetime-recover",
            ),
        ]
        self._warm()
        for part in self._parts:
            part.start()
        self._http = serve(
            schedule.handler, host=self.host, port=self.port, log_request=console.log_request
        )
        threading.Thread(target=self._http.serve_forever, name="http", daemon=True).start()

    @staticmethod
    def _warm() -> None:
        """Pay the cold start once, before the first timer: on AWS the SQS delay's rounding-down
        leaves up to a second of slack for it; here the first delivery should not need it."""
        graph = wiring.graph()
        graph.dispatcher.signer()
        graph.message_store.find("warm-up")

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        for part in self._parts:
            part.stop()
        self._mock.stop()
        wiring.install(None)
        os.environ.pop("DUETIME_DISPATCH_FUNCTION", None)

    def banner(self) -> str:
        return banner(
            engine="AWS emulation (the AWS adapters on moto; state is lost on exit)",
            url=self.url,
            token=self.token,
            keys=self.keys,
        )
