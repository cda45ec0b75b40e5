"""Cold-init time of each handler module (imports + client creation) in fresh interpreters,
against a bare botocore DynamoDB client measured the same way in the same run.

    python -m bench.cold_start [--runs N]
    python -m bench.cold_start --instructions    # instructions executed, under valgrind

Runs go round-robin (bare, schedule, dispatch, bare, ...) so a change in the machine's load
hits every snippet alike; the ratios to the bare client are the figures to compare. Bytecode
is cached (a deployed bundle ships .pyc files), under a private PYTHONPYCACHEPREFIX so that a
global PYTHONDONTWRITEBYTECODE cannot make every run recompile duetime. The first invocation
(and the AWS clients pynamodb builds on it) is not timed.

Wall-clock medians on a shared 2-core VM move by more than most changes here (min-max spans of
100-300 ms), so `--instructions` counts what each cold init executes instead, one run each
under `valgrind --tool=callgrind` with warm bytecode: load does not move that count, and it is
the figure the before/after entries in docs/benchmarks.md compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ENV = {
    "DUETIME_TABLE_NAME": "t",
    "DUETIME_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    "DUETIME_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:q",
    "DUETIME_SCHEDULE_GROUP": "g",
    "DUETIME_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
    "DUETIME_SIGNING_KEYS_SECRET_ID": "s",
    # As infra/ deploys the API function: due-now timers by async Invoke (its client is lazy).
    "DUETIME_DISPATCH_FUNCTION": "arn:aws:lambda:us-east-1:123456789012:function:duetime-dispatch",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# Each snippet does what a cold start does before the first record: import, then build clients.
SNIPPETS = {
    "bare botocore dynamodb client": (
        "import botocore.session; botocore.session.get_session().create_client('dynamodb')"
    ),
    "schedule handler": (
        "from functions.handlers import schedule; from functions import wiring; "
        "wiring.graph().message_service"
    ),
    "dispatch handler": (
        "from functions.handlers import dispatch; from functions import wiring; "
        "wiring.graph().dispatcher"
    ),
}


def measure(snippet: str, pycache: str) -> float:
    code = f"import time; t=time.perf_counter(); {snippet}; print(time.perf_counter()-t)"
    env = _environment(pycache)
    output = subprocess.run(  # noqa: S603 - our interpreter, our fixed snippets
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    return float(output.stdout.strip().splitlines()[-1]) * 1000


def _environment(pycache: str) -> dict[str, str]:
    env = {**os.environ, **ENV, "PYTHONPYCACHEPREFIX": pycache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def instructions(snippet: str, pycache: str, valgrind: str) -> int:
    """Instructions one cold init executes, counted by callgrind."""
    ran = subprocess.run(  # noqa: S603 - valgrind on our interpreter, our fixed snippets
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            snippet,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_environment(pycache),
        cwd=Path(__file__).resolve().parents[1],
    )
    found = re.search(r"Collected : (\d+)", ran.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{ran.stderr[-2000:]}")
    return int(found.group(1))


def count_instructions() -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("skipped: valgrind is not installed (apt-get install valgrind)")
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="duetime-pyc-") as pycache:
        for name, snippet in SNIPPETS.items():
            measure(snippet, pycache)  # warm the .pyc cache first
            counts[name] = instructions(snippet, pycache, valgrind)
    bare = counts[next(iter(SNIPPETS))]
    results = {
        name: {"instructions": taken, "vs_bare": round(taken / bare, 3)}
        for name, taken in counts.items()
    }
    for name, row in results.items():
        print(json.dumps({name: row}), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cold_start_instructions.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under valgrind instead"
    )
    args = parser.parse_args()
    if args.instructions:
        count_instructions()
        return
    samples: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    with tempfile.TemporaryDirectory(prefix="duetime-pyc-") as pycache:
        for snippet in SNIPPETS.values():
            measure(snippet, pycache)  # fill the .pyc cache, as a deployed bundle has it
        for _ in range(args.runs):
            for name, snippet in SNIPPETS.items():
                samples[name].append(measure(snippet, pycache))
    bare = statistics.median(samples[next(iter(SNIPPETS))])
    results = {}
    for name, taken in samples.items():
        results[name] = {
            "median_ms": round(statistics.median(taken), 1),
            "min_ms": round(min(taken), 1),
            "max_ms": round(max(taken), 1),
            "vs_bare": round(statistics.median(taken) / bare, 2),
            "runs": args.runs,
        }
        print(json.dumps({name: results[name]}), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
