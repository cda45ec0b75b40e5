"""Flow control: a key shared by many messages, with at most `parallelism` of them in progress
and at most `rate` started per `period`. Pure.

Excess messages wait (QStash's "waitlist"); nothing is refused for being over a limit. The
limits come from the messages (`Upstash-Flow-Control-Value`, the latest one wins) unless an
operator pinned them. A flow-control key is a lane of the queue gate (functions.domain.queues)
that keeps no FIFO promise of its own beyond admitting the oldest waiting first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from functions.domain.clock import to_ms
from functions.domain.durations import parse_duration
from functions.domain.errors import ValidationError
from functions.domain.queues import (
    FLOW_CONTROL_PREFIX,
    LaneSettings,
    QueueCounts,
)

_KEY = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
MAX_PARALLELISM = 1000
MAX_RATE = 100_000
MAX_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class FlowControlSettings:
    parallelism: int | None = None
    rate: int | None = None
    period_seconds: int = 1

    def lane(self) -> LaneSettings:
        return LaneSettings(
            self.parallelism, self.rate, self.period_seconds if self.rate is not None else None
        )

    def document(self) -> dict[str, int]:
        """As a message keeps them (its view shows `parallelism`, `rate` and `period`)."""
        values = {"period": self.period_seconds}
        if self.parallelism is not None:
            values["parallelism"] = self.parallelism
        if self.rate is not None:
            values["rate"] = self.rate
        return values


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValidationError(
            f"Upstash-Flow-Control-Key must be 1-128 letters, digits or '_.:@-', got {key[:200]!r}"
        )
    return key


def parse_value(text: str) -> FlowControlSettings:
    """`parallelism=5, rate=10, period=1m`, as the SDKs send it; at least one of parallelism
    and rate, a period only with a rate."""
    found: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in {"parallelism", "rate", "period"} or name in found:
            raise ValidationError(
                "Upstash-Flow-Control-Value must be comma-separated parallelism=<n>, rate=<n> "
                f"and period=<duration>, each at most once, got {text[:200]!r}"
            )
        found[name] = value.strip()
    parallelism = _count(found.get("parallelism"), "parallelism", MAX_PARALLELISM)
    rate = _count(found.get("rate"), "rate", MAX_RATE)
    if parallelism is None and rate is None:
        raise ValidationError("Upstash-Flow-Control-Value needs parallelism=<n> or rate=<n>")
    period = timedelta(seconds=1)
    if "period" in found:
        if rate is None:
            raise ValidationError("Upstash-Flow-Control-Value: period applies to a rate")
        period = parse_duration(found["period"], field="Upstash-Flow-Control-Value period")
        if not timedelta(seconds=1) <= period <= MAX_PERIOD:
            raise ValidationError(
                f"Upstash-Flow-Control-Value period must be 1s to 7d, got {found['period']!r}"
            )
    return FlowControlSettings(parallelism, rate, int(period.total_seconds()))


def parse_pin(params: dict[str, str]) -> FlowControlSettings:
    """The query of `POST /v2/flowControl/{key}/pin`: parallelism, rate and period (seconds)."""
    unknown = sorted(set(params) - {"parallelism", "rate", "period"})
    if unknown:
        raise ValidationError(
            f"unknown query parameter(s): {', '.join(unknown)}; known: parallelism, period, rate"
        )
    parallelism = _count(params.get("parallelism"), "parallelism", MAX_PARALLELISM)
    rate = _count(params.get("rate"), "rate", MAX_RATE)
    if parallelism is None and rate is None:
        raise ValidationError("pin needs parallelism or rate")
    period = _count(params.get("period"), "period", int(MAX_PERIOD.total_seconds()))
    if period is not None and rate is None:
        raise ValidationError("period is pinned with a rate")
    return FlowControlSettings(parallelism, rate, period or 1)


def parse_unpin(params: dict[str, str]) -> tuple[bool, bool]:
    """Which of parallelism and rate to unpin (`?parallelism=true&rate=true`)."""
    unknown = sorted(set(params) - {"parallelism", "rate"})
    if unknown:
        raise ValidationError(
            f"unknown query parameter(s): {', '.join(unknown)}; known: parallelism, rate"
        )
    chosen = []
    for name in ("parallelism", "rate"):
        value = params.get(name, "false").lower()
        if value not in {"true", "false"}:
            raise ValidationError(f"{name} must be true or false, got {params[name]!r}")
        chosen.append(value == "true")
    if not any(chosen):
        raise ValidationError("unpin needs parallelism=true or rate=true")
    return chosen[0], chosen[1]


def _count(value: str | None, name: str, limit: int) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,7}", value) or not 1 <= int(value) <= limit:
        raise ValidationError(f"{name} must be an integer from 1 to {limit}, got {value!r}")
    return int(value)


def flow_control_view(counts: QueueCounts) -> dict[str, Any]:
    """A key as the SDKs parse it (`FlowControlInfo`); 0 means "no limit" for the maxima."""
    lane = counts.queue
    return {
        "flowControlKey": lane.name.removeprefix(FLOW_CONTROL_PREFIX),
        "waitListSize": counts.waiting,
        "parallelismMax": lane.parallelism or 0,
        "parallelismCount": counts.active,
        "rateMax": lane.rate or 0,
        "rateCount": lane.rate_count,
        "ratePeriod": lane.period_seconds,
        "ratePeriodStart": to_ms(lane.period_start) if lane.period_start else 0,
        "isPaused": lane.paused,
        "isPinnedParallelism": lane.pinned_parallelism,
        "isPinnedRate": lane.pinned_rate,
    }
