"""Environment parsed once into typed settings (the handlers' only view of configuration)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from functions.domain import timeouts


# A frozen dataclass, not a pydantic model: `from_env` already parses every value, and
# importing pydantic would add ~50 ms to each cold start for no check (issue 13).
@dataclass(frozen=True)
class Settings:
    """What a duetime function needs to know about its deployment. The AWS names are empty
    on the embedded backend, which needs none of them."""

    table_name: str = ""
    queue_url: str = ""
    queue_arn: str = ""
    # Flow steps have their own queue on AWS (and their own function); the delivery queue
    # serves when none is configured.
    step_queue_url: str | None = None
    step_queue_arn: str | None = None
    schedule_group: str = ""
    scheduler_role_arn: str = ""
    # The dispatch function's ARN. When set, delivery timers due now start it by an
    # asynchronous Invoke instead of a queue message, and far-off ones are EventBridge
    # schedules that invoke it instead of sending to the queue (the `schedule` function's
    # setting on AWS; issue 13).
    dispatch_function: str | None = None
    signing_keys_secret_id: str = ""
    token_secret_id: str | None = None
    # sha256 hex digests of API tokens, comma-separated in the environment.
    token_sha256: tuple[str, ...] = ()
    dev_mode: bool = False
    # When set, the only destination hosts duetime will call (exact, lower-case names).
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = 262_144
    default_retries: int = 3
    delivery_timeout_seconds: int = timeouts.DEFAULT_DELIVERY_TIMEOUT_SECONDS
    secret_cache_seconds: int = 60
    # How long failed messages stay in the DLQ, and finished ones readable (DynamoDB TTL).
    dlq_retention_days: int = 7
    # Window in which a repeated deduplication id is answered with the first message id.
    dedup_window_seconds: int = 600
    # Within this horizon a timer is an SQS delay; beyond it an EventBridge one-time schedule.
    sqs_horizon_seconds: int = 900
    # EventBridge schedules fire this far ahead of due (its precision is a minute).
    eventbridge_lead_seconds: int = 120
    # Kill switches are re-read at most this often per graph (a read per publish would cost
    # as much as the publish); a dev server of several processes re-reads them when a
    # counter the processes share moves instead (`KillSwitches.changes`).
    kill_switch_cache_seconds: float = 5.0
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        hashes = tuple(
            h.strip().lower() for h in e.get("DUETIME_TOKEN_SHA256", "").split(",") if h.strip()
        )
        dispatch_function = e.get("DUETIME_DISPATCH_FUNCTION") or None
        if dispatch_function is not None and not dispatch_function.startswith("arn:"):
            # EventBridge Scheduler targets need the ARN; a bare name would fail at the first
            # far-off publish instead of here.
            raise ValueError(
                f"DUETIME_DISPATCH_FUNCTION must be the dispatch function's ARN, got "
                f"{dispatch_function!r}"
            )
        return cls(
            table_name=e.get("DUETIME_TABLE_NAME", ""),
            queue_url=e.get("DUETIME_QUEUE_URL", ""),
            queue_arn=e.get("DUETIME_QUEUE_ARN", ""),
            step_queue_url=e.get("DUETIME_STEP_QUEUE_URL") or None,
            step_queue_arn=e.get("DUETIME_STEP_QUEUE_ARN") or None,
            schedule_group=e.get("DUETIME_SCHEDULE_GROUP", ""),
            scheduler_role_arn=e.get("DUETIME_SCHEDULER_ROLE_ARN", ""),
            dispatch_function=dispatch_function,
            signing_keys_secret_id=e.get("DUETIME_SIGNING_KEYS_SECRET_ID", ""),
            token_secret_id=e.get("DUETIME_TOKEN_SECRET_ID") or None,
            token_sha256=hashes,
            dev_mode=e.get("DUETIME_DEV_MODE", "").lower() in {"1", "true", "yes"},
            allowed_hosts=tuple(
                h.strip().lower()
                for h in e.get("DUETIME_ALLOWED_HOSTS", "").split(",")
                if h.strip()
            ),
            max_body_bytes=int(e.get("DUETIME_MAX_BODY_BYTES", "262144")),
            sqs_horizon_seconds=int(e.get("DUETIME_SQS_HORIZON_SECONDS", "900")),
            dlq_retention_days=int(e.get("DUETIME_DLQ_RETENTION_DAYS", "7")),
            dedup_window_seconds=int(e.get("DUETIME_DEDUP_WINDOW_SECONDS", "600")),
            eventbridge_lead_seconds=int(e.get("DUETIME_EVENTBRIDGE_LEAD_SECONDS", "120")),
            region=e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION") or "us-east-1",
        )
