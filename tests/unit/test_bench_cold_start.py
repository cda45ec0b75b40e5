"""bench/cold_start.py's snippets still run against today's code (they crashed once
functions/runtime.py was removed). Only that they run: timings belong to the bench."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cold_start import SNIPPETS, measure


@pytest.mark.parametrize("name", list(SNIPPETS))
def test_each_cold_start_snippet_runs(name: str, tmp_path: Path) -> None:
    assert measure(SNIPPETS[name], str(tmp_path)) > 0
