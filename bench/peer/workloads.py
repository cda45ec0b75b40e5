"""The three workloads, each against one freshly started peer.

same-second  N messages all due in one whole second, chosen so that publishing ends first
spread       N messages due uniformly over S whole seconds (N/S per second), same lead
publish      M messages due FAR_DUE_S ahead, so none is delivered while any server lives:
             the enqueue rate alone, with no delivery competing for the CPU
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from bench.peer import host
from bench.peer.client import Job, Published, publish_all
from bench.peer.receiver import ReceiverProcess
from bench.peer.stats import Outcome, delivery_figures, publish_figures
from bench.peer.targets import Peer

WORKLOADS = ("same-second", "spread", "publish")
# Beyond the life of any one server here (each is stopped after its workload, and the run's
# budget is shorter), yet within the 900 s SQS horizon of `duetime dev --aws-emulation`.
FAR_DUE_S = 800


@dataclass(frozen=True)
class Settings:
    messages: int
    publish_messages: int
    workers: int
    spread_seconds: int
    publish_timeout: float
    drain_timeout: float
    lead: float  # 0: derive from a probe of the peer's publish rate
    max_lead: float
    grace: float  # after the last expected arrival, for duplicates to show up


class Budget:
    """The whole run's deadline: every wait below is capped by it."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class Context:
    """What every workload runs with: one peer (started), the receiver, settings, budget."""

    peer: Peer
    receiver: ReceiverProcess
    run_id: str
    settings: Settings
    budget: Budget

    def publish(self, path: str, jobs: list[Job]) -> Published:
        limit = min(self.settings.publish_timeout, self.budget.remaining())
        url = self.receiver.url(path)
        return publish_all(self.peer, url, jobs, self.settings.workers, limit)

    def probe_rate(self, tag: str, count: int) -> float:
        """Publish `count` far-future messages (also a warm-up); the rate they went at."""
        due = int(time.time()) + FAR_DUE_S
        jobs = [Job(f"{tag}-probe:{n}", due) for n in range(count)]
        return publish_figures(self.publish("/probe", jobs))["publish_rate_per_s"]


def _lead(rate: float, s: Settings) -> float:
    if s.lead > 0:
        return s.lead
    if rate <= 0:
        return s.max_lead
    # 30 % headroom over the probed rate, plus slack for the last requests in flight.
    return min(s.max_lead, math.ceil(s.messages / rate * 1.3) + 3)


def _per_message(cpu_seconds: float, jobs: list[Job]) -> float:
    return round(1000 * cpu_seconds / len(jobs), 2) if jobs else 0.0


def _wait_for(receiver: ReceiverProcess, prefix: str, expected: int, until: float) -> bool:
    """Poll until `expected` distinct keys arrived under prefix or the monotonic deadline."""
    while time.monotonic() < until:
        if receiver.count(prefix) >= expected:
            return True
        time.sleep(0.25)
    return receiver.count(prefix) >= expected


def run(workload: str, ctx: Context) -> Outcome:
    s, peer = ctx.settings, ctx.peer
    tag = f"{ctx.run_id}:{peer.name}:{workload}"
    prefix = f"{tag}:"
    path = f"/{peer.name}/{workload}"
    if workload == "publish":
        ctx.probe_rate(tag, max(4 * s.workers, 50))
        cpu = host.process_cpu_seconds(peer.pids())
        due = int(time.time()) + FAR_DUE_S
        jobs = [Job(f"{prefix}{n}", due) for n in range(s.publish_messages)]
        published = ctx.publish(path, jobs)
        return Outcome(
            workload,
            peer.name,
            s.publish_messages,
            deliveries_expected=False,
            server_cpu_ms_per_msg=_per_message(host.process_cpu_seconds(peer.pids()) - cpu, jobs),
            **publish_figures(published),
        )

    lead = _lead(ctx.probe_rate(tag, min(200, max(50, s.messages // 20))), s)
    cpu = host.process_cpu_seconds(peer.pids())
    first = time.time()
    base = int(first + lead) + 1
    if workload == "same-second":
        jobs = [Job(f"{prefix}{n}", base) for n in range(s.messages)]
    else:
        jobs = [
            Job(f"{prefix}{n}", base + n * s.spread_seconds // s.messages)
            for n in range(s.messages)
        ]
    published = ctx.publish(path, jobs)
    wait = max(0.0, jobs[-1].due - time.time()) + s.drain_timeout
    until = time.monotonic() + min(wait, ctx.budget.remaining())
    met = _wait_for(ctx.receiver, prefix, len(published.ok), until)
    time.sleep(min(s.grace, ctx.budget.remaining()))
    cpu = host.process_cpu_seconds(peer.pids()) - cpu
    arrivals, _ = ctx.receiver.records(prefix)
    return Outcome(
        workload,
        peer.name,
        s.messages,
        deliveries_expected=True,
        lead_s=round(base - first, 2),
        timed_out=not met,
        server_cpu_ms_per_msg=_per_message(cpu, jobs),
        **publish_figures(published),
        **delivery_figures(published, arrivals),
    )
