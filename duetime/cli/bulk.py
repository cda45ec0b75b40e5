"""Bulk operations in batches, with a progress bar on stderr (stdout stays for results)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from duetime.cli.common import Exit, fail
from duetime.cli.output import as_json
from duetime.client import ConflictError, DuetimeError, NotFoundError

BATCH = 100


def progress(*, quiet: bool) -> Progress:
    """A bar on stderr while a person watches; none into a log or a pipe, where it would
    only leave blank lines."""
    stderr = Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        disable=quiet or not stderr.is_terminal,
        transient=True,
    )


@dataclass
class Outcome:
    """What a command did to the ids it was given, one by one."""

    done: int = 0
    missing: list[str] = field(default_factory=list)  # no such id (404)
    refused: list[str] = field(default_factory=list)  # in a state that forbids it (409)
    stopped: DuetimeError | None = None  # any other failure ends the run (auth, network…)
    left: int = 0  # ids not tried because of it


def each_id(label: str, ids: list[str], do: Callable[[str], object], *, quiet: bool) -> Outcome:
    """`do` each id in turn. An unknown id, or one whose state forbids it, is noted and the
    rest still run; `report` then names them and exits non-zero."""
    outcome = Outcome()
    with progress(quiet=quiet) as bar:
        task = bar.add_task(label, total=len(ids))
        for one in ids:
            try:
                if do(one) is False:  # the server answered "nothing to do" for this id
                    outcome.refused.append(one)
                else:
                    outcome.done += 1
            except NotFoundError:
                outcome.missing.append(one)
            except ConflictError:
                outcome.refused.append(one)
            except DuetimeError as exc:
                outcome.stopped, outcome.left = exc, len(ids) - ids.index(one)
                break
            bar.advance(task)
    return outcome


def report(key: str, outcome: Outcome, *, json: bool, refused_because: str) -> None:
    """`key N`, then each id that was not done; exit 3 if any was unknown, else 6 if any
    was refused (scripts learn that not everything named was done)."""
    if json:
        as_json(
            {
                key: outcome.done,
                "notFound": outcome.missing,
                "refused": outcome.refused,
                "notTried": outcome.left,
            }
        )
    else:
        typer.echo(f"{key} {outcome.done}")
    problems = [f"not found: {i}" for i in outcome.missing]
    problems += [f"{refused_because}: {i}" for i in outcome.refused]
    if outcome.stopped is not None:
        # What was done is printed above; the failure itself exits with its own code.
        typer.secho(f"duetime: stopped with {outcome.left} id(s) not tried", err=True, fg="red")
        for problem in problems:
            typer.secho(f"duetime: {problem}", err=True, fg="red")
        raise outcome.stopped
    if outcome.missing:
        raise fail("; ".join(problems), Exit.NOT_FOUND)
    if outcome.refused:
        raise fail("; ".join(problems), Exit.CONFLICT)


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
    """Call `step` with the cursor it last returned (one server-side batch: how many it
    handled, and the next cursor) until the cursor is none."""
    done, cursor = 0, None
    with progress(quiet=quiet) as bar:
        task = bar.add_task(label, total=None)
        while True:
            handled, cursor = step(cursor)
            done += handled
            bar.update(task, completed=done)
            if cursor is None:
                return done
