"""Unit-test settings: pure functions only, so Hypothesis needs no deadline (no timed asserts)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("unit", deadline=None, max_examples=100)
settings.load_profile("unit")
