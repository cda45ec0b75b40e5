"""The gaps between a flow's steps, against the delays its definition asks for (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from duetime.client import Flow


@dataclass(frozen=True)
class Gap:
    step_id: str
    status: str
    sent_at: datetime | None
    expected: timedelta | None
    actual: timedelta | None  # since the step before was sent (the first: since it was armed)

    @property
    def drift(self) -> timedelta | None:
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected

    def within(self, tolerance: timedelta) -> bool:
        """Unsent steps pass: a flow still running, or a step skipped, has no gap to judge."""
        return self.drift is None or abs(self.drift) <= tolerance


def gaps(flow: Flow, expected: list[timedelta] | None = None) -> list[Gap]:
    """One gap per step. `expected` overrides the definition's delays, step by step."""
    if expected is not None and len(expected) != len(flow.steps):
        raise ValueError(
            f"--expect gives {len(expected)} gap(s); flow {flow.flow_id} has "
            f"{len(flow.steps)} step(s)"
        )
    rows: list[Gap] = []
    previous: datetime | None = None
    for index, step in enumerate(flow.steps):
        wanted = expected[index] if expected is not None else _delay(step.delay_seconds)
        start = step.armed_at if index == 0 else previous
        actual = step.sent_at - start if step.sent_at and start else None
        rows.append(Gap(step.id, step.status, step.sent_at, wanted, actual))
        previous = step.sent_at or previous
    return rows


def _delay(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
