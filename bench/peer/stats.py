"""Figures from what was published and what arrived, and the markdown table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from bench.peer.client import Published


@dataclass(frozen=True)
class Outcome:
    workload: str
    peer: str
    messages: int
    published: int
    publish_errors: int
    unsent: int
    published_after_due: int  # acknowledged only after the message was already due
    publish_rate_per_s: float
    publish_p50_ms: float
    publish_p99_ms: float
    client_cpu_pct: float  # of one core, while publishing
    deliveries_expected: bool
    lead_s: float = 0.0  # due second minus the first publish (delivery workloads)
    delivered: int = 0
    duplicates: int = 0
    lost: int = 0  # published, never arrived before the time limit
    unexpected: int = 0  # arrived, but not among the acknowledged publishes
    early: int = 0  # first arrival before its due time
    delivery_rate_per_s: float = 0.0  # delivered / (last arrival - first arrival)
    rate_from_due_per_s: float = 0.0  # delivered / (last arrival - first due second)
    lateness_p50_ms: float = 0.0
    lateness_p99_ms: float = 0.0
    lateness_max_ms: float = 0.0
    drain_s: float = 0.0  # last arrival - last due
    timed_out: bool = False
    error: str | None = None
    # All CPUs, anyone's: idle box before the peer started, and during the workload.
    background_cpu_pct: float = 0.0
    host_cpu_pct: float = 0.0
    # CPU the server under test (Quirrel: node + redis) used per message, probe excluded:
    # the figure least distorted by a shared machine.
    server_cpu_ms_per_msg: float = 0.0

    @classmethod
    def failed(cls, workload: str, peer: str, error: str) -> Outcome:
        return cls(workload, peer, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, False, error=error)


class PublishFigures(TypedDict):
    published: int
    publish_errors: int
    unsent: int
    published_after_due: int
    publish_rate_per_s: float
    publish_p50_ms: float
    publish_p99_ms: float
    client_cpu_pct: float


class DeliveryFigures(TypedDict, total=False):
    delivered: int
    duplicates: int
    lost: int
    unexpected: int
    early: int
    delivery_rate_per_s: float
    rate_from_due_per_s: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    drain_s: float


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def publish_figures(published: Published) -> PublishFigures:
    ok = published.ok
    window = (
        max(s.acked_at for s in ok) - min(s.sent_at for s in ok) if len(ok) > 1 else float("nan")
    )
    latency = [(s.acked_at - s.sent_at) * 1000 for s in ok]
    wall = max(0.001, published.finished - published.started)
    return {
        "published": len(ok),
        "publish_errors": len(published.sent) - len(ok),
        "unsent": published.unsent,
        "published_after_due": sum(1 for s in ok if s.acked_at > s.due),
        "publish_rate_per_s": round(len(ok) / window, 1) if window > 0 else 0.0,
        "publish_p50_ms": round(percentile(latency, 50), 1),
        "publish_p99_ms": round(percentile(latency, 99), 1),
        "client_cpu_pct": round(100 * published.client_cpu_s / wall, 1),
    }


def delivery_figures(
    published: Published, arrivals: Iterable[tuple[str, float]]
) -> DeliveryFigures:
    due = {s.key: s.due for s in published.ok}
    first: dict[str, float] = {}
    duplicates = unexpected = 0
    for key, at in sorted(arrivals, key=lambda r: r[1]):
        if key not in due:
            unexpected += 1
        elif key in first:
            duplicates += 1
        else:
            first[key] = at
    if not first:
        return {"lost": len(due), "unexpected": unexpected}
    lateness = [(at - due[key]) * 1000 for key, at in first.items()]
    last_arrival = max(first.values())
    span = last_arrival - min(first.values())
    from_due = last_arrival - min(due.values())
    return {
        "delivered": len(first),
        "duplicates": duplicates,
        "lost": len(due) - len(first),
        "unexpected": unexpected,
        "early": sum(1 for value in lateness if value < 0),
        "delivery_rate_per_s": round(len(first) / span, 1) if span > 0 else 0.0,
        "rate_from_due_per_s": round(len(first) / from_due, 1) if from_due > 0 else 0.0,
        "lateness_p50_ms": round(percentile(lateness, 50), 1),
        "lateness_p99_ms": round(percentile(lateness, 99), 1),
        "lateness_max_ms": round(max(lateness), 1),
        "drain_s": round(last_arrival - max(due.values()), 2),
    }


def failures(outcome: Outcome) -> list[str]:
    """What the report must flag: anything duplicated, early, lost or not published."""
    problems = []
    if outcome.error:
        problems.append(f"error: {outcome.error}")
    if outcome.publish_errors:
        problems.append(f"{outcome.publish_errors} publish errors")
    if outcome.deliveries_expected:
        for label, count in (
            ("duplicated", outcome.duplicates),
            ("early", outcome.early),
            ("lost", outcome.lost),
            ("unexpected", outcome.unexpected),
        ):
            if count:
                problems.append(f"{count} {label}")
    return problems


_COLUMNS = [
    ("workload", "workload"),
    ("peer", "peer"),
    ("published", "published"),
    ("publish/s", "publish_rate_per_s"),
    ("publish p50/p99 ms", None),
    ("delivered", "delivered"),
    ("dup", "duplicates"),
    ("lost", "lost"),
    ("early", "early"),
    ("delivery/s (first→last)", "delivery_rate_per_s"),
    ("delivery/s (from due)", "rate_from_due_per_s"),
    ("late p50 ms", "lateness_p50_ms"),
    ("late p99 ms", "lateness_p99_ms"),
    ("late max ms", "lateness_max_ms"),
    ("drain s", "drain_s"),
    ("server CPU ms/msg", "server_cpu_ms_per_msg"),
    ("host CPU % before/during", "host"),
]


def _cell(outcome: Outcome, header: str, attribute: str | None) -> str:
    if attribute is None:
        return f"{outcome.publish_p50_ms:g} / {outcome.publish_p99_ms:g}"
    if attribute == "host":
        return f"{outcome.background_cpu_pct:g} / {outcome.host_cpu_pct:g}"
    publish_side = {"workload", "peer", "published", "publish_rate_per_s", "server_cpu_ms_per_msg"}
    delivery = attribute not in publish_side
    if delivery and not outcome.deliveries_expected:
        return "-"
    value = getattr(outcome, attribute)
    return f"{value:g}" if isinstance(value, float) else str(value)


def markdown(outcomes: list[Outcome]) -> str:
    lines = [
        "| " + " | ".join(h for h, _ in _COLUMNS) + " |",
        "|" + "|".join("---" if a in {"workload", "peer"} else "---:" for _, a in _COLUMNS) + "|",
    ]
    lines += [
        "| " + " | ".join(_cell(o, h, a) for h, a in _COLUMNS) + " |"
        for o in outcomes
        if o.error is None
    ]
    return "\n".join(lines)
