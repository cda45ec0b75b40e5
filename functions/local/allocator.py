"""The dev server's one allocator setting: two glibc malloc arenas, not one per thread.

glibc gives a thread that finds the arenas busy an arena of its own, up to eight per core,
and memory freed into one arena is reused only by the threads on it. A 25-thread server
(HTTP, 16 delivery workers, timers) ends up with 16 arenas, and over an hour of mixed load
the free space stranded among them keeps growing: measured with bench/soak.py and glibc's
malloc_info, 16 arenas held 3.4 MB free at minute 3 and 4.5 MB at minute 11, two held
1.5 MB. Most allocations happen under the GIL, so two arenas cost no contention.

glibc reads MALLOC_ARENA_MAX only at start, so the setting is made through mallopt (no
library wraps it), before the server starts its threads. An operator's own MALLOC_ARENA_MAX
wins, and where the C library is not glibc nothing changes.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's <malloc.h>
DEV_ARENAS = 2


def limit_malloc_arenas(arenas: int = DEV_ARENAS) -> bool:
    """True when glibc took the limit."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
