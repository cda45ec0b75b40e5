"""`duetime schedules list|get|pause|resume|delete`."""

from __future__ import annotations

import typer

from duetime.cli.common import DEFAULT_TOKEN, DEFAULT_URL, Json, Token, Url, client
from duetime.cli.output import as_json, fields, table

app = typer.Typer(help="Cron schedules: list, read, pause, resume and delete.")


@app.command("list")
def list_schedules(
    url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Every schedule with its next fire time."""
    with client(url, token) as api:
        found = api.schedules()
    if json:
        as_json(found)
        return
    table(
        f"{len(found)} schedule(s)",
        ("id", "cron", "destination", "paused", "next fire", "last fire", "missed"),
        (
            (
                s.schedule_id,
                s.cron,
                s.destination,
                "yes" if s.is_paused else "no",
                s.next_schedule_time,
                s.last_schedule_time,
                s.missed_fires,
            )
            for s in found
        ),
    )


@app.command("get")
def get_schedule(
    schedule_id: str, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """One schedule."""
    with client(url, token) as api:
        schedule = api.schedule(schedule_id)
    if json:
        as_json(schedule)
        return
    fields(
        schedule.schedule_id,
        [
            ("cron", schedule.cron),
            ("destination", schedule.destination),
            ("method", schedule.method),
            ("paused", schedule.is_paused),
            ("next fire", schedule.next_schedule_time),
            ("last fire", schedule.last_schedule_time),
            ("missed fires", schedule.missed_fires),
            ("created", schedule.created_at),
            ("label", schedule.label),
        ],
    )


def _done(json: bool, schedule_id: str, what: str) -> None:
    if json:
        as_json({"scheduleId": schedule_id, "result": what})
    else:
        typer.echo(f"{what} {schedule_id}")


@app.command("pause")
def pause(
    schedule_id: str, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Stop firing until resumed."""
    with client(url, token) as api:
        api.pause_schedule(schedule_id)
    _done(json, schedule_id, "paused")


@app.command("resume")
def resume(
    schedule_id: str, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Fire again from the next cron time."""
    with client(url, token) as api:
        api.resume_schedule(schedule_id)
    _done(json, schedule_id, "resumed")


@app.command("delete")
def delete(
    schedule_id: str, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Delete for good (messages it already published carry on)."""
    with client(url, token) as api:
        api.delete_schedule(schedule_id)
    _done(json, schedule_id, "deleted")
