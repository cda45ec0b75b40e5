"""`duetime messages list|get|cancel`."""

from __future__ import annotations

from typing import Annotated

import typer

from duetime.cli.bulk import BATCH, each_id, report, until_none
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
from duetime.client import Message, MessageFilter

app = typer.Typer(help="Messages: list with filters, read one, cancel one or by filter.")
PENDING = ("CREATED", "ACTIVE", "RETRY")

State = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        metavar="STATE",
        help="CREATED, ACTIVE, RETRY, DELIVERED, FAILED or CANCELED; repeat for any.",
    ),
]
Dest = Annotated[
    list[str] | None,
    typer.Option("--destination", metavar="URL", help="destination URL; repeatable."),
]
Label = Annotated[list[str] | None, typer.Option("--label", metavar="LABEL", help="repeatable.")]
ScheduleId = Annotated[
    list[str] | None, typer.Option("--schedule-id", metavar="ID", help="repeatable.")
]
Queue = Annotated[
    list[str] | None, typer.Option("--queue", metavar="NAME", help="queue name; repeatable.")
]
Group = Annotated[
    list[str] | None, typer.Option("--topic", metavar="GROUP", help="URL group; repeatable.")
]
FlowKey = Annotated[
    list[str] | None, typer.Option("--flow-control-key", metavar="KEY", help="repeatable.")
]
Since = Annotated[
    str | None,
    typer.Option("--from", metavar="TIME", help="created at or after (ISO 8601 with a zone)."),
]
Until = Annotated[
    str | None,
    typer.Option("--to", metavar="TIME", help="created at or before (ISO 8601 with a zone)."),
]


def _filter(
    state: list[str] | None,
    url: list[str] | None,
    label: list[str] | None,
    schedule_id: list[str] | None,
    queue: list[str] | None,
    topic: list[str] | None,
    flow_control_key: list[str] | None,
    since: str | None,
    until: str | None,
) -> MessageFilter:
    return MessageFilter(
        state=[s.upper() for s in state] if state else None,
        url=url or None,
        label=label or None,
        schedule_id=schedule_id or None,
        queue_name=queue or None,
        topic_name=topic or None,
        flow_control_key=flow_control_key or None,
        from_date=aware_time(since, "--from"),
        to_date=aware_time(until, "--to"),
    )


@app.command("list")
def list_messages(
    state: State = None,
    dest: Dest = None,
    label: Label = None,
    schedule_id: ScheduleId = None,
    queue: Queue = None,
    topic: Group = None,
    flow_control_key: FlowKey = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="show at most this many.")
    ] = 50,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Messages in any state, newest first."""
    selection = _filter(
        state, dest, label, schedule_id, queue, topic, flow_control_key, since, until
    )
    found: list[Message] = []
    with client(url, token) as api:
        for message in api.iter_messages(selection):
            found.append(message)
            if len(found) >= limit:
                break
    if json:
        as_json(found)
        return
    table(
        f"{len(found)} message(s)",
        ("id", "state", "url", "not before", "retried", "label"),
        ((m.message_id, m.state, m.url, m.not_before, m.retried, m.label) for m in found),
    )


@app.command("get")
def get_message(
    message_id: str,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """One message, its headers and body."""
    with client(url, token) as api:
        message = api.message(message_id)
    if json:
        as_json(message)
        return
    fields(
        message.message_id,
        [
            ("state", message.state),
            ("url", message.url),
            ("method", message.method),
            ("not before", message.not_before),
            ("created", message.created_at),
            ("retried", f"{message.retried} of {message.max_retries}"),
            ("label", message.label),
            ("schedule", message.schedule_id),
            *((f"header {k}", ", ".join(v)) for k, v in message.header.items()),
            *body_rows(message),
        ],
    )


@app.command("cancel")
def cancel(
    message_ids: Annotated[
        list[str] | None, typer.Argument(metavar="MESSAGE_ID...", help="ids to cancel.")
    ] = None,
    dest: Dest = None,
    label: Label = None,
    schedule_id: ScheduleId = None,
    queue: Queue = None,
    topic: Group = None,
    flow_control_key: FlowKey = None,
    since: Since = None,
    until: Until = None,
    all_pending: Annotated[
        bool, typer.Option("--all-pending", help="cancel every pending message.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Cancel by id, by filter, or every pending message with --all-pending (nothing else
    reaches them all)."""
    selection = _filter(
        None, dest, label, schedule_id, queue, topic, flow_control_key, since, until
    )
    chosen = [bool(message_ids), not selection.is_empty(), all_pending]
    if sum(chosen) != 1:
        raise fail("name the messages: ids, a filter, or --all-pending (exactly one)", Exit.USAGE)
    with client(url, token) as api:
        if message_ids:
            outcome = each_id("cancelling", message_ids, api.cancel_message, quiet=json)
            report("cancelled", outcome, json=json, refused_because="already finished")
            return
        # The server cancels at most `count` per call: batch until a call finds none.
        kept = None if all_pending else selection
        cancelled = until_none(
            "cancelling",
            lambda: api.cancel_messages(selection=kept, every_pending=all_pending, count=BATCH),
            quiet=json,
        )
    if json:
        as_json({"cancelled": cancelled})
    else:
        typer.echo(f"cancelled {cancelled}")
