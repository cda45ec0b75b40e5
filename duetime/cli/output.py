"""Tables for people and JSON for scripts, from the same values."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

# Wide enough that nothing folds: piped tables stay one line per row, for grep and cut.
PIPE_WIDTH = 1000


def _console() -> Console:
    """On a terminal (or with COLUMNS set) Rich fits the width; into a pipe it would assume
    80 columns and fold long URLs and ids over several lines."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=PIPE_WIDTH if piped else None)


def as_json(value: Any) -> None:
    """The API's own field names (camelCase), times as ISO 8601 UTC."""
    print(json.dumps(_plain(value), indent=2, default=str))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        # Nulls stay: a script reads `"successRate": null` as "no deliveries", not a missing key.
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """The first column is the key (an id, a scope): it never wraps, so it can be copied or
    cut from a pipe whole; the other columns fold to fit the width."""
    cells = [[cell(v) for v in row] for row in rows]
    shown = Table(title=title, title_justify="left", show_lines=False)
    key_width = max((len(row[0]) for row in cells), default=0)
    shown.add_column(columns[0], no_wrap=True, min_width=max(key_width, len(columns[0])))
    for column in columns[1:]:
        shown.add_column(column, overflow="fold")
    for row in cells:
        shown.add_row(*row)
    _console().print(shown)


def fields(title: str | None, pairs: Iterable[tuple[str, Any]]) -> None:
    """One record as a two-column table."""
    table(title, ("field", "value"), pairs)
