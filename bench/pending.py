"""`duetime dev` with a large backlog of pending messages: publish rate, memory, idle CPU.

    .venv/bin/python -m bench.pending [--pending 100000] [--idle-seconds 30]

Against a fresh `duetime dev --quiet` on a free loopback port (the embedded engine, SQLite in
memory + in-process timers, unless --duetime-args says otherwise; "--aws-emulation" works but
is far too slow for 100,000 messages):

1. publish rate on the empty server: --rate-publishes messages (default 4,000), 8 clients;
2. load --pending messages (default 100,000) as fast as 8 clients can, then the same rate
   measurement again; the ratio full/empty (target: no more than 20 % slower);
3. the server's RSS (/proc/<pid>/status VmRSS, or psutil if installed) at start, after the
   load, and the peak (sampled, and the kernel's VmHWM); target <= 300 MB;
4. idle CPU: with nothing due, the server's utime+stime (/proc/<pid>/stat) over
   --idle-seconds, as % of one core (target <= 2 %).

Every message is `Upstash-Delay: 2h` to http://127.0.0.1:9/never, so nothing is delivered
during the run. The markdown table goes to stdout, the figures to bench/results/pending.json.
Every phase has a time limit, so the run always ends by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peer import servers
from bench.peer.client import Job, Published, publish_all
from bench.peer.targets import DuetimePeer, Http, PublishError

RESULTS = Path(__file__).resolve().parent / "results"
DESTINATION = "http://127.0.0.1:9/never"
DELAY = "2h"
RATIO_TARGET = 0.8  # full-server rate at least 80 % of the empty-server rate
RSS_TARGET_MB = 300.0
IDLE_CPU_TARGET_PCT = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

try:  # optional; /proc is read directly when it is absent
    import psutil  # type: ignore[import-untyped,unused-ignore]

    _GONE: tuple[type[BaseException], ...] = (OSError, ValueError, psutil.Error)
except ImportError:  # pragma: no cover - depends on the venv
    psutil = None
    _GONE = (OSError, ValueError)


class DelayedPeer(DuetimePeer):
    """duetime dev, publishing with a relative delay instead of Upstash-Not-Before."""

    def publish(self, conn: Http, destination: str, body: bytes, due: int) -> None:
        status, text = conn.post(f"/v2/publish/{destination}", body, {"Upstash-Delay": DELAY})
        if status != 201:
            raise PublishError(f"{status} {text[:200]}")


# --- the server process, from /proc ------------------------------------------------------


def _proc_status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    """pid and its descendants (the embedded engine has none; --aws-emulation might)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def rss_mb(pid: int) -> float:
    """Resident set of the server and any children, MB (MiB)."""
    total_kb = 0
    for p in _tree(pid):
        try:
            if psutil is not None:
                total_kb += psutil.Process(p).memory_info().rss // 1024
            else:
                total_kb += _proc_status_kb(p, "VmRSS")
        except _GONE:  # exited between listing and reading
            continue
    return round(total_kb / 1024, 1)


def hwm_mb(pid: int) -> float:
    """The kernel's peak resident set (VmHWM) of the server process itself, MB."""
    try:
        return round(_proc_status_kb(pid, "VmHWM") / 1024, 1)
    except OSError:
        return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of the server and any children, s."""
    ticks = 0
    for p in _tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / CLK_TCK


class RssSampler:
    """Samples the server's RSS every `interval` s in the background, keeping the peak."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --- phases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    attempted: int
    ok: int
    errors: int
    unsent: int
    seconds: float
    rate_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float  # of one core, during the phase
    client_cpu_pct: float
    first_error: str | None


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def publish_phase(
    peer: DelayedPeer, name: str, count: int, *, workers: int, time_limit: float, pid: int
) -> Phase:
    jobs = [Job(key=f"{name}-{n}", due=0) for n in range(count)]
    cpu = cpu_seconds(pid)
    result: Published = publish_all(peer, DESTINATION, jobs, workers, time_limit)
    seconds = max(1e-6, result.finished - result.started)
    server_cpu = cpu_seconds(pid) - cpu
    ok = result.ok
    latencies = [(s.acked_at - s.sent_at) * 1000 for s in ok]
    errors = [s for s in result.sent if s.error is not None]
    return Phase(
        name=name,
        attempted=len(result.sent),
        ok=len(ok),
        errors=len(errors),
        unsent=result.unsent,
        seconds=round(seconds, 2),
        rate_per_s=round(len(ok) / seconds, 1),
        p50_ms=round(_percentile(latencies, 50), 2),
        p99_ms=round(_percentile(latencies, 99), 2),
        server_cpu_pct=round(100 * server_cpu / seconds, 1),
        client_cpu_pct=round(100 * result.client_cpu_s / seconds, 1),
        first_error=errors[0].error if errors else None,
    )


def idle_cpu(pid: int, seconds: float) -> dict[str, float]:
    """% of one core the server used over `seconds`, and the busiest 1 s window."""
    windows: list[float] = []
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    last_cpu, last = start_cpu, start
    deadline = start + seconds
    while (now := time.monotonic()) < deadline:
        time.sleep(min(1.0, deadline - now))
        cpu, now = cpu_seconds(pid), time.monotonic()
        windows.append(100 * (cpu - last_cpu) / max(1e-6, now - last))
        last_cpu, last = cpu, now
    elapsed = max(1e-6, last - start)
    return {
        "seconds": round(elapsed, 1),
        "cpu_s": round(last_cpu - start_cpu, 3),
        "pct_one_core": round(100 * (last_cpu - start_cpu) / elapsed, 2),
        "max_1s_window_pct": round(max(windows, default=0.0), 1),
        "clock_tick_s": round(1 / CLK_TCK, 3),
    }


def _check_alive(peer: DelayedPeer) -> None:
    assert peer.server is not None
    if peer.server.process.poll() is not None:
        raise RuntimeError(f"duetime dev exited ({peer.server.process.returncode})")


def _git() -> str:
    try:
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(servers.REPO), "describe", "--always", "--dirty"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.strip()


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- report ----------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def table(report: dict[str, Any]) -> str:
    empty, full, load = report["empty"], report["full"], report["load"]
    rss, idle = report["rss_mb"], report["idle_cpu"]
    ratio = report["rate_ratio"]
    rows = [
        ("publish rate, empty server", f"{empty['rate_per_s']:,.0f}/s", "", ""),
        (
            f"load {load['ok']:,} pending",
            f"{load['rate_per_s']:,.0f}/s over {load['seconds']:,.0f} s",
            "",
            "",
        ),
        (
            f"publish rate, {report['pending_at_full']:,} pending",
            f"{full['rate_per_s']:,.0f}/s",
            "",
            "",
        ),
        (
            "full / empty rate",
            f"{ratio:.2f}",
            f">= {RATIO_TARGET:.2f}",
            _mark(ratio >= RATIO_TARGET),
        ),
        ("publish p50 / p99, empty", f"{empty['p50_ms']} / {empty['p99_ms']} ms", "", ""),
        ("publish p50 / p99, full", f"{full['p50_ms']} / {full['p99_ms']} ms", "", ""),
        ("RSS at start", f"{rss['start']} MB", "", ""),
        ("RSS after load", f"{rss['after_load']} MB", f"<= {RSS_TARGET_MB:.0f} MB", ""),
        (
            "RSS peak (sampled / VmHWM)",
            f"{rss['peak_sampled']} / {rss['peak_hwm']} MB",
            f"<= {RSS_TARGET_MB:.0f} MB",
            _mark(rss["peak"] <= RSS_TARGET_MB),
        ),
        (
            f"idle CPU over {idle['seconds']:.0f} s",
            f"{idle['pct_one_core']} % of one core (busiest 1 s: {idle['max_1s_window_pct']} %)",
            f"<= {IDLE_CPU_TARGET_PCT:.0f} %",
            _mark(idle["pct_one_core"] <= IDLE_CPU_TARGET_PCT),
        ),
        ("publish errors (all phases)", str(report["errors_total"]), "0", ""),
        (
            "load average 1/5/15 (start -> end)",
            f"{report['loadavg_start']} -> {report['loadavg_end']}",
            "",
            "",
        ),
    ]
    lines = ["| measure | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.pending", description=(__doc__ or "").split("\n")[0]
    )
    p.add_argument("--pending", type=int, default=100_000, help="messages to leave pending")
    p.add_argument("--idle-seconds", type=float, default=30, help="idle CPU window")
    p.add_argument("--settle-seconds", type=float, default=5, help="pause before the idle window")
    p.add_argument("--rate-publishes", type=int, default=4000, help="per rate measurement")
    p.add_argument("--warmup", type=int, default=200, help="publishes before the first rate")
    p.add_argument("--workers", type=int, default=8, help="concurrent publishing clients")
    p.add_argument("--rate-timeout", type=float, default=300, help="s per rate measurement")
    p.add_argument("--load-timeout", type=float, default=3000, help="s for loading --pending")
    p.add_argument(
        "--duetime-args",
        default="",
        help='extra `duetime dev` flags (default: the embedded engine), e.g. "--db /tmp/x.db"',
    )
    p.add_argument("--out", type=Path, default=RESULTS / "pending.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.pending", *(argv or sys.argv[1:])])
    extra = ["--quiet", *shlex.split(args.duetime_args)]
    loadavg_start = _load()
    peer = DelayedPeer(extra)
    try:
        peer.start()
    except servers.StartError as exc:
        print(f"duetime dev did not start: {exc}", file=sys.stderr)
        return 2
    assert peer.server is not None
    pid = peer.server.process.pid
    try:
        time.sleep(1)  # let start-up work finish before the baseline
        rss_start = rss_mb(pid)
        with RssSampler(pid) as sampler:

            def phase(name: str, count: int, limit: float) -> Phase:
                return publish_phase(
                    peer, name, count, workers=args.workers, time_limit=limit, pid=pid
                )

            warm = phase("warmup", args.warmup, args.rate_timeout)
            empty = phase("empty", args.rate_publishes, args.rate_timeout)
            print(f"empty: {empty.rate_per_s:,.0f}/s; loading {args.pending:,}", flush=True)
            load = phase("load", args.pending, args.load_timeout)
            pending = warm.ok + empty.ok + load.ok
            print(f"loaded {load.ok:,} in {load.seconds:,.0f} s; {pending:,} pending", flush=True)
            full = phase("full", args.rate_publishes, args.rate_timeout)
            rss_after = rss_mb(pid)
            time.sleep(max(0.0, args.settle_seconds))
            print(f"full: {full.rate_per_s:,.0f}/s; idle {args.idle_seconds:.0f} s", flush=True)
            idle = idle_cpu(pid, max(1.0, args.idle_seconds))
            rss_end = rss_mb(pid)
        _check_alive(peer)
        peak_hwm = hwm_mb(pid)
    except BaseException:
        print(peer.tail(), file=sys.stderr)
        raise
    finally:
        peer.stop()
    phases = [warm, empty, load, full]
    peak_sampled = max(sampler.peak, rss_start, rss_after, rss_end)
    report = {
        "command": command,
        "duetime_args": " ".join(extra),
        "git": _git(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "rss_source": "psutil" if psutil is not None else "/proc/<pid>/status VmRSS",
        "destination": DESTINATION,
        "delay": DELAY,
        "workers": args.workers,
        "pending_at_full": warm.ok + empty.ok + load.ok,
        "pending_at_end": warm.ok + empty.ok + load.ok + full.ok,
        "warmup": warm.__dict__,
        "empty": empty.__dict__,
        "load": load.__dict__,
        "full": full.__dict__,
        "rate_ratio": round(full.rate_per_s / max(1e-6, empty.rate_per_s), 3),
        "rss_mb": {
            "start": rss_start,
            "after_load": rss_after,
            "after_idle": rss_end,
            "peak_sampled": peak_sampled,
            "peak_hwm": peak_hwm,
            "peak": max(peak_sampled, peak_hwm),
            "samples": sampler.samples,
        },
        "idle_cpu": idle,
        "errors_total": sum(p.errors for p in phases),
        "unsent_total": sum(p.unsent for p in phases),
        "loadavg_start": loadavg_start,
        "loadavg_end": _load(),
        "targets": {
            "rate_ratio_min": RATIO_TARGET,
            "rss_max_mb": RSS_TARGET_MB,
            "idle_cpu_max_pct": IDLE_CPU_TARGET_PCT,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report))
    print()
    print(f"command: `{command}`; figures: {args.out}")
    if report["errors_total"] or report["unsent_total"]:
        first = next((p.first_error for p in phases if p.first_error), None)
        print(f"errors: {report['errors_total']}, unsent: {report['unsent_total']}; {first}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
