"""Whole-machine CPU use from /proc/stat: the box may be shared, and the figures say so."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

_STAT = Path("/proc/stat")


def _ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs, or None off Linux."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(v) for v in _STAT.read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)
    return None


class CpuMeter:
    """Percent of all CPUs busy between start() and percent(), whoever used them."""

    def __init__(self) -> None:
        self._start = _ticks()

    def percent(self) -> float:
        end = _ticks()
        if self._start is None or end is None or end[1] <= self._start[1]:
            return float("nan")
        return round(100 * (end[0] - self._start[0]) / (end[1] - self._start[1]), 1)


def background_percent(seconds: float = 1.0) -> float:
    """Machine CPU use while this benchmark runs nothing: other people's load."""
    meter = CpuMeter()
    time.sleep(seconds)
    return meter.percent()


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the given processes have used so far (gone processes count 0)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Fields after the ")" of the command name: utime and stime are the 12th and 13th.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes `pid` started (duetime's worker processes), from /proc."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found
