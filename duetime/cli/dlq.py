"""`duetime dlq list|get|retry|delete`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import typer

from duetime.cli.bulk import BATCH, Outcome, each_id, paged, progress, report
from duetime.cli.common import (
    DEFAULT_TOKEN,
    DEFAULT_URL,
    Exit,
    Json,
    Token,
    Url,
    aware_time,
    client,
    fail,
)
from duetime.cli.output import as_json, body_rows, fields, table
from duetime.client import DlqFilter, DlqMessage, Duetime, NotFoundError

app = typer.Typer(help="The dead-letter queue: list, read, retry and delete, one or by filter.")

Ids = Annotated[
    list[str] | None, typer.Argument(metavar="DLQ_ID...", help="dlq ids (the failed message ids).")
]
Dest = Annotated[list[str] | None, typer.Option("--destination", metavar="URL", help="repeatable.")]
Label = Annotated[list[str] | None, typer.Option("--label", metavar="LABEL", help="repeatable.")]
ScheduleId = Annotated[
    list[str] | None, typer.Option("--schedule-id", metavar="ID", help="repeatable.")
]
Queue = Annotated[list[str] | None, typer.Option("--queue", metavar="NAME", help="repeatable.")]
Status = Annotated[
    list[int] | None,
    typer.Option("--status", metavar="CODE", help="last response status; repeatable."),
]
Since = Annotated[
    str | None, typer.Option("--from", metavar="TIME", help="failed at or after (ISO 8601).")
]
Until = Annotated[
    str | None, typer.Option("--to", metavar="TIME", help="failed at or before (ISO 8601).")
]
Every = Annotated[bool, typer.Option("--all", help="every message in the DLQ.")]
RELIST_LIMIT = 5  # pages listed again in a row because an id vanished, before giving up


def _filter(
    dest: list[str] | None,
    label: list[str] | None,
    schedule_id: list[str] | None,
    queue: list[str] | None,
    status: list[int] | None,
    since: str | None,
    until: str | None,
) -> DlqFilter:
    return DlqFilter(
        url=dest or None,
        label=label or None,
        schedule_id=schedule_id or None,
        queue_name=queue or None,
        response_status=status or None,
        from_date=aware_time(since, "--from"),
        to_date=aware_time(until, "--to"),
    )


@app.command("list")
def list_dlq(
    dest: Dest = None,
    label: Label = None,
    schedule_id: ScheduleId = None,
    queue: Queue = None,
    status: Status = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="show at most this many.")
    ] = 100,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Failed messages, newest first, with their last response."""
    selection = _filter(dest, label, schedule_id, queue, status, since, until)
    found: list[DlqMessage] = []
    with client(url, token) as api:
        for message in api.iter_dlq(selection):
            found.append(message)
            if len(found) >= limit:
                break
    if json:
        as_json(found)
        return
    table(
        f"{len(found)} failed message(s)",
        ("dlq id", "url", "status", "response", "retried", "label"),
        (
            (m.dlq_id, m.url, m.response_status, _short(m.response_body), m.retried, m.label)
            for m in found
        ),
    )


@app.command("get")
def get_dlq(
    dlq_id: str, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """One failed message and its last response."""
    with client(url, token) as api:
        message = api.dlq_message(dlq_id)
    if json:
        as_json(message)
        return
    fields(
        message.dlq_id,
        [
            ("url", message.url),
            ("response status", message.response_status),
            ("response body", message.response_body),
            ("retried", message.retried),
            ("created", message.created_at),
            *body_rows(message),
        ],
    )


def _retry_ids(api: Duetime, ids: list[str], quiet: bool) -> Outcome:
    return each_id("retrying", ids, api.retry_dlq, quiet=quiet)


def _delete_ids(api: Duetime, ids: list[str], quiet: bool) -> Outcome:
    return each_id("deleting", ids, api.delete_dlq, quiet=quiet)


def _retry_selected(api: Duetime, selection: DlqFilter | None, quiet: bool) -> int:
    """List a page, retry what it holds, follow the listing's cursor. A retried message that
    fails again re-enters the DLQ under its new id, and in the same instant (a manual clock)
    it can sort below the cursor: the ids this walk created are skipped, never retried twice."""
    created: set[str] = set()
    cursor: str | None = None
    relisted = 0
    with progress(quiet=quiet) as bar:
        task = bar.add_task("retrying", total=None)
        while True:
            page = api.dlq(selection, count=BATCH, cursor=cursor)
            chosen = [m.dlq_id for m in page.messages if m.dlq_id not in created]
            if chosen:
                try:
                    new_ids, _ = api.retry_dlq_many(chosen)
                except NotFoundError:
                    # One left the DLQ since the listing (expired, or another operator) and
                    # the server retried none: list the same page again, without it.
                    relisted += 1
                    if relisted > RELIST_LIMIT:
                        raise
                    continue
                relisted = 0
                created.update(new_ids)
                bar.update(task, completed=len(created))
            if page.cursor is None:
                return len(created)
            cursor = page.cursor


def _delete_selected(api: Duetime, selection: DlqFilter | None, quiet: bool) -> int:
    """Deleting adds nothing to the DLQ, so the server walks it: one call per batch."""
    every = selection is None
    return paged(
        "deleting",
        lambda cursor: api.delete_dlq_many(
            None, selection, every=every, count=BATCH, cursor=cursor
        ),
        quiet=quiet,
    )


@dataclass(frozen=True)
class _Action:
    key: str  # "retried" / "deleted": the count's name in the output
    by_ids: Callable[[Duetime, list[str], bool], Outcome]  # the bool: quiet (no progress bar)
    by_selection: Callable[[Duetime, DlqFilter | None, bool], int]


def _bulk(
    action: _Action,
    ids: list[str] | None,
    selection: DlqFilter,
    every: bool,
    url: str,
    token: str,
    json: bool,
) -> None:
    if sum([bool(ids), not selection.is_empty(), every]) != 1:
        raise fail("name the messages: ids, a filter, or --all (exactly one)", Exit.USAGE)
    with client(url, token) as api:
        if ids:
            outcome = action.by_ids(api, ids, json)
            report(action.key, outcome, json=json, refused_because="not in the DLQ")
            return
        done = action.by_selection(api, None if every else selection, json)
    if json:
        as_json({action.key: done})
    else:
        typer.echo(f"{action.key} {done}")


def _bulk_command(action: _Action, summary: str) -> Callable[..., None]:
    """Retry and delete take the same selection: one signature, two actions."""

    def command(
        dlq_ids: Ids = None,
        dest: Dest = None,
        label: Label = None,
        schedule_id: ScheduleId = None,
        queue: Queue = None,
        status: Status = None,
        since: Since = None,
        until: Until = None,
        every: Every = False,
        url: Url = DEFAULT_URL,
        token: Token = DEFAULT_TOKEN,
        json: Json = False,
    ) -> None:
        selection = _filter(dest, label, schedule_id, queue, status, since, until)
        _bulk(action, dlq_ids, selection, every, url, token, json)

    command.__doc__ = summary
    return command


app.command("retry")(
    _bulk_command(
        _Action("retried", _retry_ids, _retry_selected),
        "Publish failed messages again (as new messages) and take them out of the DLQ.",
    )
)
app.command("delete")(
    _bulk_command(
        _Action("deleted", _delete_ids, _delete_selected), "Delete failed messages for good."
    )
)


def _short(text: str | None, width: int = 60) -> str | None:
    if text is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"
