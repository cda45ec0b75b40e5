"""Bulk operations in batches, with a progress bar on stderr (stdout stays for results)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

BATCH = 100


def batches(ids: list[str], size: int = BATCH) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def progress(*, quiet: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )


def each_batch(label: str, items: list[str], do: Callable[[list[str]], int], *, quiet: bool) -> int:
    """`do` each batch of ids in turn; the sum of what they handled."""
    done = 0
    with progress(quiet=quiet) as bar:
        task = bar.add_task(label, total=len(items))
        for batch in batches(items):
            done += do(batch)
            bar.advance(task, len(batch))
    return done


def until_none(label: str, step: Callable[[], int], *, quiet: bool) -> int:
    """Call `step` (one server-side batch: how many it handled) until it handles none."""
    done = 0
    with progress(quiet=quiet) as bar:
        task = bar.add_task(label, total=None)
        while handled := step():
            done += handled
            bar.update(task, completed=done)
    return done


def paged(label: str, step: Callable[[str | None], tuple[int, str | None]], *, quiet: bool) -> int:
    """Call `step` with the cursor it last returned until it returns none: a message that
    fails again while this runs is newer than the cursor, so it is never taken twice."""
    done, cursor = 0, None
    with progress(quiet=quiet) as bar:
        task = bar.add_task(label, total=None)
        while True:
            handled, cursor = step(cursor)
            done += handled
            bar.update(task, completed=done)
            if cursor is None:
                return done
