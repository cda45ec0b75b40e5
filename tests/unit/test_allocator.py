"""The dev server caps glibc's malloc arenas, so a many-threaded server's free memory is not
stranded across one arena per thread."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from functions.local.allocator import DEV_ARENAS, limit_malloc_arenas

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="arenas and mallopt are glibc's"
)

# Eight threads allocate at the same time, then glibc's malloc_info says how many arenas
# ("heaps") the process has.
_PROBE = """
import ctypes, sys, threading
from functions.local.allocator import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
together = threading.Barrier(8)
def allocate():
    held = [bytearray(size) for size in range(1_000, 60_000, 1_000)]
    together.wait()
    del held
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
"""


def _arenas(mode: str, tmp_path: Path) -> int:
    report = tmp_path / f"{mode}.xml"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run(  # noqa: S603 - our interpreter, our fixed probe
        [sys.executable, "-c", _PROBE, mode, str(report)],
        check=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    return report.read_text().count("<heap nr=")


def test_with_the_limit_eight_busy_threads_share_two_arenas(tmp_path: Path) -> None:
    assert _arenas("limit", tmp_path) <= DEV_ARENAS


def test_without_it_glibc_gives_them_an_arena_each(tmp_path: Path) -> None:
    """The control: what the limit prevents does happen here."""
    assert _arenas("default", tmp_path) > DEV_ARENAS


def test_an_operators_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
