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

from duetime.client import Message

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
    """The first column is the key (an id, a scope). Piped, nothing folds, so each row is one
    line for grep and cut. On a terminal the key keeps up to a third of the width and
    folds beyond that, so the other columns never shrink to nothing."""
    cells = [[cell(v) for v in row] for row in rows]
    console = _console()
    shown = Table(title=title, title_justify="left", show_lines=False)
    key_width = max((len(row[0]) for row in cells), default=0)
    key_width = min(max(key_width, len(columns[0])), max(console.width // 3, len(columns[0])))
    shown.add_column(columns[0], min_width=key_width, overflow="fold")
    for column in columns[1:]:
        shown.add_column(column, overflow="fold")
    for row in cells:
        shown.add_row(*row)
    console.print(shown)


def body_rows(message: Message) -> list[tuple[str, str | None]]:
    """`body`, or `body (base64)` when the bytes are not UTF-8 (the API sends one of them)."""
    if message.body_base64 is not None:
        return [("body (base64)", message.body_base64)]
    return [("body", message.body)]


def fields(title: str | None, pairs: Iterable[tuple[str, Any]]) -> None:
    """One record as a two-column table."""
    table(title, ("field", "value"), pairs)
