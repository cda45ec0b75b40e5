"""Wait for an observable outcome instead of sleeping a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(read: Callable[[], T], until: Callable[[T], bool], *, timeout: float = 10.0) -> T:
    """Call `read` until `until(value)` holds, and return that value; fail with the last one
    read when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {timeout} s: {value!r}")
        time.sleep(0.02)
