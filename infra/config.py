"""What a duetime deployment can be told: one frozen dataclass, validated when built.

Sandbox and production are the same props with different arguments (`as_sandbox()`), never a
flag that constructs branch on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, get_args

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Node

ApiKind = Literal["http_api", "function_url"]
API_KINDS: tuple[str, ...] = get_args(ApiKind)

_SCHEDULE_GROUP_NAME = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")
# Exact host names (no scheme, port or wildcard): the dispatcher compares them as they are.
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
# SQS keeps a message at most 14 days; a DLQ cannot hold one longer.
_MAX_RETENTION_DAYS = 14
# Lambda's SQS event source accepts a maximum concurrency between 2 and 1,000.
_MIN_CONCURRENCY, _MAX_CONCURRENCY = 2, 1000


class DuetimeConfigError(ValueError):
    """A deployment setting that AWS would reject, or that duetime cannot honour."""


@dataclass(frozen=True, kw_only=True)
class DuetimeProps:
    """Settings of one duetime deployment (defaults are production's)."""

    # EventBridge Scheduler group that holds every one-time wake-up schedule.
    schedule_group_name: str = "duetime"
    # How long a dead-lettered timer waits for an operator (days, at most 14).
    retention_days: int = 14
    # How long failed messages stay in duetime's DLQ API (and finished ones readable), in days;
    # DynamoDB's TTL removes them afterwards (DUETIME_DLQ_RETENTION_DAYS).
    message_retention_days: int = 7
    # When set, the dispatcher may only call these hosts (DUETIME_ALLOWED_HOSTS).
    allowed_destination_hosts: tuple[str, ...] = ()
    # Upper bound on the dispatch (and step) invocations each queue's event source runs at
    # once. Each delivers its batch of 10 side by side: 100 gives ~1,000 in-flight deliveries,
    # enough for the 1,000 messages/s of docs/architecture.md with ~1 s per delivery. The
    # async invocations for messages due now, and the API's EventBridge schedules', come on top.
    max_dispatch_concurrency: int = 100
    # Reserved concurrency for dispatch: caps all of its invocations (the event source's and
    # the async ones) and keeps them from taking the Region's concurrency from the API. None
    # leaves dispatch on the account's unreserved pool. Must exceed max_dispatch_concurrency,
    # as AWS advises for an SQS event source, so throttles land on the async invocations
    # (Lambda retries them, then sends them to the delivery queue) and never on the queue.
    dispatch_reserved_concurrency: int | None = None
    api: ApiKind = "http_api"
    # HTTP API default-stage throttling (requests/s, burst): twice the 1,000 publishes/s the
    # design is sized for, well under the account's regional HTTP API quota.
    throttle_rate_limit: int = 2000
    throttle_burst_limit: int = 4000
    # What happens to data (table, secrets, logs) when the stack is deleted.
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    deletion_protection: bool = True
    # SNS topic that receives every alarm's state changes (none: alarms only show on the dashboard).
    alarm_topic_arn: str | None = None
    # Alarm when more than this share of finished deliveries failed for good (percent, 5 minutes).
    failure_rate_threshold_percent: float = 5.0
    log_level: str = "INFO"
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    memory_size_mb: int = 512
    # The bundle is built for this runtime's Python version (see infra/bundling.py).
    runtime: lambda_.Runtime = lambda_.Runtime.PYTHON_3_13

    def __post_init__(self) -> None:
        if not _SCHEDULE_GROUP_NAME.match(self.schedule_group_name):
            raise DuetimeConfigError(
                "schedule_group_name must be 1-64 of letters, digits, '.', '-' or '_', "
                f"got {self.schedule_group_name!r}"
            )
        if not 1 <= self.retention_days <= _MAX_RETENTION_DAYS:
            raise DuetimeConfigError(
                f"retention_days must be between 1 and {_MAX_RETENTION_DAYS}, "
                f"got {self.retention_days}"
            )
        if not 1 <= self.message_retention_days <= 365:
            raise DuetimeConfigError(
                "message_retention_days must be between 1 and 365, "
                f"got {self.message_retention_days}"
            )
        for host in self.allowed_destination_hosts:
            if not _HOST.match(host):
                raise DuetimeConfigError(f"allowed destination host {host!r} is not a host name")
        if not _MIN_CONCURRENCY <= self.max_dispatch_concurrency <= _MAX_CONCURRENCY:
            raise DuetimeConfigError(
                f"max_dispatch_concurrency must be between {_MIN_CONCURRENCY} and "
                f"{_MAX_CONCURRENCY}, got {self.max_dispatch_concurrency}"
            )
        reserved = self.dispatch_reserved_concurrency
        if reserved is not None and reserved <= self.max_dispatch_concurrency:
            raise DuetimeConfigError(
                "dispatch_reserved_concurrency must exceed max_dispatch_concurrency "
                f"({self.max_dispatch_concurrency}), got {reserved}"
            )
        if self.api not in API_KINDS:
            raise DuetimeConfigError(f"api must be one of {API_KINDS}, got {self.api!r}")
        if self.throttle_rate_limit < 1 or self.throttle_burst_limit < 1:
            raise DuetimeConfigError("throttle limits must be positive")
        if not 0 < self.failure_rate_threshold_percent <= 100:
            raise DuetimeConfigError("failure_rate_threshold_percent must be in (0, 100]")
        if self.log_level not in _LOG_LEVELS:
            raise DuetimeConfigError(f"log_level must be one of {sorted(_LOG_LEVELS)}")
        if not 128 <= self.memory_size_mb <= 10240:
            raise DuetimeConfigError("memory_size_mb must be between 128 and 10240")

    def as_sandbox(self) -> DuetimeProps:
        """The same deployment, disposable: deleting the stack deletes its data too."""
        return replace(self, removal_policy=RemovalPolicy.DESTROY, deletion_protection=False)


def props_from_context(node: Node) -> DuetimeProps:
    """Props from `cdk.json` context or `-c key=value` (keys prefixed `duetime:`).

    `-c` values arrive as strings, `cdk.json` values as JSON: both are accepted.
    """
    defaults = DuetimeProps()
    props = DuetimeProps(
        schedule_group_name=_text(node, "duetime:scheduleGroup", defaults.schedule_group_name),
        retention_days=_integer(node, "duetime:retentionDays", defaults.retention_days),
        message_retention_days=_integer(
            node, "duetime:messageRetentionDays", defaults.message_retention_days
        ),
        allowed_destination_hosts=_hosts(node.try_get_context("duetime:allowedHosts")),
        max_dispatch_concurrency=_integer(
            node, "duetime:maxDispatchConcurrency", defaults.max_dispatch_concurrency
        ),
        dispatch_reserved_concurrency=_optional_integer(
            node, "duetime:dispatchReservedConcurrency"
        ),
        api=_api_kind(_text(node, "duetime:api", defaults.api)),
        throttle_rate_limit=_integer(
            node, "duetime:throttleRateLimit", defaults.throttle_rate_limit
        ),
        throttle_burst_limit=_integer(
            node, "duetime:throttleBurstLimit", defaults.throttle_burst_limit
        ),
        alarm_topic_arn=_text(node, "duetime:alarmTopicArn", "") or None,
        log_level=_text(node, "duetime:logLevel", defaults.log_level).upper(),
    )
    return props.as_sandbox() if _flag(node, "duetime:sandbox") else props


def _text(node: Node, key: str, default: str) -> str:
    value = node.try_get_context(key)
    return default if value is None else str(value).strip()


def _integer(node: Node, key: str, default: int) -> int:
    value = node.try_get_context(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DuetimeConfigError(f"context {key} must be an integer, got {value!r}") from exc


def _optional_integer(node: Node, key: str) -> int | None:
    value = node.try_get_context(key)
    return None if value is None or value == "" else _integer(node, key, 0)


def _flag(node: Node, key: str) -> bool:
    value = node.try_get_context(key)
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "true", "yes"}


def _hosts(value: object) -> tuple[str, ...]:
    """A JSON list or a comma-separated string of host names."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip().lower() for item in items if str(item).strip())


def _api_kind(value: str) -> ApiKind:
    if value == "http_api":
        return "http_api"
    if value == "function_url":
        return "function_url"
    raise DuetimeConfigError(f"context duetime:api must be one of {API_KINDS}, got {value!r}")
