"""`duetime dev` against Quirrel (production mode, real Redis): same receiver, same client.

    .venv/bin/python -m bench.peer --workload all --messages 2000
    .venv/bin/python -m bench.peer --workload same-second --peers duetime \\
        --duetime-args "--workers 16"

Install Quirrel's side first: `apt-get install redis-server` and `npm ci --prefix bench/quirrel`;
without them Quirrel is SKIPPED and duetime runs alone. The markdown table goes to stdout, the
figures to bench/results/peer.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from bench.peer import host, stats, workloads
from bench.peer.receiver import ReceiverProcess
from bench.peer.servers import StartError
from bench.peer.targets import DuetimePeer, Peer, QuirrelPeer

RESULTS = Path(__file__).resolve().parents[1] / "results"
MIN_WORKLOAD_BUDGET_S = 30.0
BUSY_HOST_PCT = 20.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.peer", description=(__doc__ or "").split("\n")[0]
    )
    p.add_argument("--workload", choices=[*workloads.WORKLOADS, "all"], default="all")
    p.add_argument("--peers", default="quirrel,duetime", help="comma-separated, run in this order")
    p.add_argument("--messages", type=int, default=2000, help="same-second and spread")
    p.add_argument("--publish-messages", type=int, default=0, help="publish (default 2x)")
    p.add_argument("--workers", type=int, default=8, help="concurrent publishing clients")
    p.add_argument("--spread-seconds", type=int, default=10)
    p.add_argument("--publish-timeout", type=float, default=180, help="s per publish phase")
    p.add_argument("--drain-timeout", type=float, default=180, help="s after the last due")
    p.add_argument("--lead", type=float, default=0, help="s to the due second (0: probe)")
    p.add_argument("--max-lead", type=float, default=180)
    p.add_argument("--grace", type=float, default=2, help="s to wait for duplicates")
    p.add_argument("--budget", type=float, default=570, help="s for the whole run")
    p.add_argument(
        "--duetime-args", default="", help='extra `duetime dev` flags, e.g. "--workers 16"'
    )
    p.add_argument(
        "--duetime-verbose", action="store_true", help="do not add --quiet to `duetime dev`"
    )
    p.add_argument(
        "--quirrel-log-level", default="warn", help="pino level (Quirrel's default: trace)"
    )
    p.add_argument("--out", type=Path, default=RESULTS / "peer.json")
    return p


def _peers(args: argparse.Namespace) -> list[Peer]:
    made: dict[str, Peer] = {
        "duetime": DuetimePeer(shlex.split(args.duetime_args), quiet=not args.duetime_verbose),
        "quirrel": QuirrelPeer(args.workers, args.quirrel_log_level),
    }
    names = [n.strip() for n in args.peers.split(",") if n.strip()]
    unknown = set(names) - made.keys()
    if unknown:
        raise SystemExit(f"unknown peers: {sorted(unknown)}")
    return [made[n] for n in names]


def _run_one(workload: str, ctx: workloads.Context) -> stats.Outcome:
    peer = ctx.peer
    background = host.background_percent()
    peer.start()  # a fresh server: no idle peer, leftovers or state during the measurement
    try:
        meter = host.CpuMeter()
        outcome = workloads.run(workload, ctx)
        return replace(outcome, background_cpu_pct=background, host_cpu_pct=meter.percent())
    except Exception as exc:
        print(f"--- {peer.name} output ---\n{peer.tail()}", file=sys.stderr)
        return stats.Outcome.failed(workload, peer.name, f"{type(exc).__name__}: {exc}")
    finally:
        peer.stop()


def _glue_duetime_args(argv: list[str]) -> list[str]:
    """`--duetime-args "--workers 16"` -> `--duetime-args=--workers 16`: argparse would take a
    value starting with "--" for an option of its own."""
    values = iter(argv)  # shared: gluing consumes the value that follows the option
    return [f"{a}={next(values, '')}" if a == "--duetime-args" else a for a in values]


def main() -> int:
    args = _parser().parse_args(_glue_duetime_args(sys.argv[1:]))
    settings = workloads.Settings(
        messages=args.messages,
        publish_messages=args.publish_messages or 2 * args.messages,
        workers=args.workers,
        spread_seconds=args.spread_seconds,
        publish_timeout=args.publish_timeout,
        drain_timeout=args.drain_timeout,
        lead=args.lead,
        max_lead=args.max_lead,
        grace=args.grace,
    )
    budget = workloads.Budget(args.budget)
    names = list(workloads.WORKLOADS) if args.workload == "all" else [args.workload]
    peers = _peers(args)
    skipped: dict[str, str] = {}
    outcomes: list[stats.Outcome] = []
    run_id = secrets.token_hex(4)
    started = time.time()
    with ReceiverProcess() as receiver:
        for workload in names:
            for peer in peers:
                if peer.name in skipped:
                    continue
                if budget.remaining() < MIN_WORKLOAD_BUDGET_S:
                    print(f"SKIPPED: {workload} on {peer.name}: run budget spent", flush=True)
                    continue
                print(f"# {workload} on {peer.name} ...", file=sys.stderr, flush=True)
                try:
                    ctx = workloads.Context(peer, receiver, run_id, settings, budget)
                    outcome = _run_one(workload, ctx)
                except StartError as exc:
                    skipped[peer.name] = str(exc)
                    print(f"SKIPPED: {peer.name}: {exc}", flush=True)
                    continue
                outcomes.append(outcome)
                print(json.dumps(asdict(outcome)), file=sys.stderr, flush=True)
        _, unkeyed = receiver.records(f"{run_id}:none")
    print(stats.markdown(outcomes))
    for outcome in outcomes:
        for problem in stats.failures(outcome):
            print(f"FAIL {outcome.workload} {outcome.peer}: {problem}")
        if outcome.timed_out:
            print(f"NOTE {outcome.workload} {outcome.peer}: stopped waiting at the time limit")
        if outcome.unsent or outcome.published_after_due:
            print(
                f"NOTE {outcome.workload} {outcome.peer}: {outcome.unsent} unsent at the publish"
                f" limit, {outcome.published_after_due} acknowledged after their due time"
            )
        if outcome.background_cpu_pct > BUSY_HOST_PCT:
            print(
                f"NOTE {outcome.workload} {outcome.peer}: the machine was"
                f" {outcome.background_cpu_pct:g}% busy before the peer started (other load)"
            )
    if unkeyed:
        print(f"FAIL receiver: {unkeyed} requests without a message key")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "run_id": run_id,
        "started": started,
        "seconds": round(time.time() - started, 1),
        "argv": sys.argv[1:],
        "settings": asdict(settings),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "peers": {p.name: p.describe() for p in peers if p.name not in skipped},
        "skipped": skipped,
        "outcomes": [asdict(o) for o in outcomes],
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nfigures: {args.out} ({report['seconds']} s)")
    return 0  # FAIL lines report violations; the run itself succeeded


if __name__ == "__main__":
    sys.exit(main())
