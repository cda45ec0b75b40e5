"""`duetime dlq list|get|retry|delete`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import typer

from duetime.cli.bulk import BATCH, each_batch, paged
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
from duetime.cli.output import as_json, fields, table
from duetime.client import DlqFilter, Duetime

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
        int, typer.Option("--limit", metavar="N", min=1, max=100, help="at most.")
    ] = 100,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Failed messages, newest first, with their last response."""
    selection = _filter(dest, label, schedule_id, queue, status, since, until)
    with client(url, token) as api:
        page = api.dlq(selection, count=limit)
    if json:
        as_json(page.messages)
        return
    table(
        f"{len(page.messages)} failed message(s)",
        ("dlq id", "url", "status", "response", "retried", "label"),
        (
            (m.dlq_id, m.url, m.response_status, _short(m.response_body), m.retried, m.label)
            for m in page.messages
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
            ("body", message.body),
        ],
    )


def _bulk(
    verb: str,
    ids: list[str] | None,
    selection: DlqFilter,
    every: bool,
    act: _Act,
    url: str,
    token: str,
    json: bool,
) -> None:
    if sum([bool(ids), not selection.is_empty(), every]) != 1:
        raise fail("name the messages: ids, a filter, or --all (exactly one)", Exit.USAGE)
    with client(url, token) as api:
        if ids:
            done = each_batch(
                verb,
                ids,
                lambda batch: act(api, _Selected(batch, None, False), None)[0],
                quiet=json,
            )
        else:
            chosen = _Selected(None, None if every else selection, every)
            done = paged(verb, lambda cursor: act(api, chosen, cursor), quiet=json)
    key = "retried" if verb == "retrying" else "deleted"
    if json:
        as_json({key: done})
    else:
        typer.echo(f"{key} {done}")


_Act = Callable[[Duetime, "_Selected", str | None], tuple[int, str | None]]


@dataclass(frozen=True)
class _Selected:
    ids: list[str] | None
    selection: DlqFilter | None
    every: bool


def _retry(api: Duetime, chosen: _Selected, cursor: str | None) -> tuple[int, str | None]:
    new_ids, cursor = api.retry_dlq_many(
        chosen.ids,
        chosen.selection,
        every=chosen.every,
        count=None if chosen.ids else BATCH,
        cursor=cursor,
    )
    return len(new_ids), cursor


def _delete(api: Duetime, chosen: _Selected, cursor: str | None) -> tuple[int, str | None]:
    return api.delete_dlq_many(
        chosen.ids,
        chosen.selection,
        every=chosen.every,
        count=None if chosen.ids else BATCH,
        cursor=cursor,
    )


def _bulk_command(verb: str, act: _Act, summary: str) -> Callable[..., None]:
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
        _bulk(verb, dlq_ids, selection, every, act, url, token, json)

    command.__doc__ = summary
    return command


app.command("retry")(
    _bulk_command(
        "retrying",
        _retry,
        "Publish failed messages again (as new messages) and take them out of the DLQ.",
    )
)
app.command("delete")(_bulk_command("deleting", _delete, "Delete failed messages for good."))


def _short(text: str | None, width: int = 60) -> str | None:
    if text is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"
