"""Lateness and throughput of `duetime dev`: receipt time minus due time at a real receiver.

    python -m bench.lateness [--scenario NAME] [--count N]

Scenarios (results go to bench/results/<scenario>.json and are summarised on stdout):
  burst          N messages all due in the same second (Upstash-Not-Before)
  spread         N messages with delays spread evenly over 0-60 s (SQS delay path)
  eventbridge    N messages due 120-180 s out, every one through the EventBridge path
                 (SQS horizon 0 s, lead 60 s), without jitter
  eventbridge-jitter   the same with the dev server firing schedules 0-59 s late
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import start_dev, stop_dev
from tests.helpers.receiver import Receiver

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Scenario:
    name: str
    count: int
    dev_args: tuple[str, ...]
    publish_seconds_budget: float


@dataclass(frozen=True)
class Result:
    scenario: str
    count: int
    delivered: int
    duplicates: int
    publish_rate_per_s: float
    delivery_rate_per_s: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    early_count: int


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _published_id(response: httpx.Response, n: int) -> str:
    if response.status_code != 201:
        raise RuntimeError(f"publish {n}: {response.status_code} {response.text}")
    return str(response.json()["messageId"])


def run(scenario: str, count: int) -> Result:
    dev_args: tuple[str, ...] = ()
    if scenario.startswith("eventbridge"):
        dev_args = ("--sqs-horizon-seconds", "0", "--eventbridge-lead-seconds", "60")
    if scenario == "eventbridge-jitter":
        dev_args += ("--eventbridge-jitter",)
    process, dev = start_dev(*dev_args)
    try:
        with (
            Receiver() as receiver,
            httpx.Client(
                base_url=dev.url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=60
            ) as api,
        ):
            start = time.time()
            due_at: dict[str, float] = {}

            def publish(n: int) -> None:
                headers: dict[str, str] = {}
                if scenario == "burst":
                    # Due together, after publishing has finished (the dev server takes ~40/s).
                    headers["Upstash-Not-Before"] = str(int(start) + count // 30 + 15)
                elif scenario == "spread":
                    headers["Upstash-Delay"] = f"{n * 60 // count}s"
                else:
                    headers["Upstash-Delay"] = f"{120 + n * 60 // count}s"
                response = api.post(f"/v2/publish/{receiver.url(f'/m/{n}')}", headers=headers)
                message_id = _published_id(response, n)
                message = api.get(f"/v2/messages/{message_id}").json()
                due_at[message_id] = message["notBefore"] / 1000

            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(publish, range(count)))
            published = time.time()
            last_due = max(due_at.values())
            receiver.wait_for(count, timeout=max(0.0, last_due - time.time()) + 600)
            time.sleep(2)  # let any duplicate arrive before counting
            seen: dict[str, float] = {}
            duplicates = 0
            for request in receiver.requests:
                message_id = request.headers["Upstash-Message-Id"]
                if message_id in seen:
                    duplicates += 1
                    continue
                seen[message_id] = request.at
            lateness = [(seen[m] - due_at[m]) * 1000 for m in seen]
            first_due = min(due_at.values())
            finished = max(seen.values())
            return Result(
                scenario=scenario,
                count=count,
                delivered=len(seen),
                duplicates=duplicates,
                publish_rate_per_s=round(count / (published - start), 1),
                delivery_rate_per_s=round(len(seen) / max(0.001, finished - first_due), 1)
                if scenario == "burst"
                else 0.0,
                lateness_p50_ms=round(statistics.median(lateness), 1),
                lateness_p99_ms=round(_percentile(lateness, 99), 1),
                lateness_max_ms=round(max(lateness), 1),
                early_count=sum(1 for value in lateness if value < 0),
            )
    except Exception:
        print("".join(dev.output[-40:]), file=sys.stderr)
        raise
    finally:
        stop_dev(process)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--scenario",
        choices=["burst", "spread", "eventbridge", "eventbridge-jitter", "all"],
        default="all",
    )
    parser.add_argument("--count", type=int, default=0, help="messages (default per scenario)")
    args = parser.parse_args()
    defaults = {"burst": 5000, "spread": 1000, "eventbridge": 300, "eventbridge-jitter": 300}
    names = list(defaults) if args.scenario == "all" else [args.scenario]
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        result = run(name, args.count or defaults[name])
        (RESULTS / f"{name}.json").write_text(json.dumps(asdict(result), indent=2))
        print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
