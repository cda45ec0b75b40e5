"""`duetime stats`, `duetime kill-switch`, `duetime keys [rotate]` and `duetime clock`."""

from __future__ import annotations

from typing import Annotated

import typer

from duetime.cli.common import (
    DEFAULT_TOKEN,
    DEFAULT_URL,
    Exit,
    Json,
    Token,
    Url,
    aware_time,
    client,
    duration,
    fail,
)
from duetime.cli.output import as_json, fields, table
from duetime.client import KillSwitch, Stats

keys_app = typer.Typer(help="The signing keys deliveries are signed with; rotate them.")
clock_app = typer.Typer(help="The dev server's clock (`duetime dev --clock manual`).")


def stats(
    window: Annotated[
        str,
        typer.Option(
            "--window", metavar="DURATION", help="the span rates and errors cover (max 30d)."
        ),
    ] = "1h",
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """How many are scheduled, overdue and failed, retries, rates, and the errors grouped."""
    with client(url, token) as api:
        found = api.stats(window)
    if json:
        as_json(found)
        return
    _stats_table(found, window)


def _percent(rate: float | None) -> str | None:
    return None if rate is None else f"{rate:.1%}"


def _stats_table(found: Stats, window: str) -> None:
    partial = "" if found.window_complete else " (the log holds less than the window)"
    fields(
        f"now, and over the last {window}{partial}",
        [
            ("scheduled (pending messages)", found.scheduled),
            ("overdue", found.overdue),
            ("failed (in the DLQ)", found.failed),
            ("average retries", found.average_retries),
            ("attempts", found.attempts),
            ("delivered", found.delivered),
            ("failed attempts", found.failed_attempts),
            ("dead-lettered", found.dead_lettered),
            ("success rate", _percent(found.success_rate)),
            ("failure rate", _percent(found.failure_rate)),
        ],
    )
    if found.errors:
        table(
            "errors, grouped",
            ("error", "count", "sample message", "status", "response"),
            (
                (
                    e.error,
                    e.count,
                    e.sample.message_id,
                    e.sample.response_status,
                    e.sample.response_body,
                )
                for e in found.errors
            ),
        )


def kill_switch(
    action: Annotated[str, typer.Argument(metavar="ACTION", help="on, off or list.")] = "list",
    scope: Annotated[
        str | None,
        typer.Argument(
            metavar="SCOPE",
            help="all, flows:<id prefix>, url:<URL prefix>, schedule:<id>, queue:<name>;"
            " on and off need one, list shows the scopes starting with it.",
            show_default=False,
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", metavar="TEXT", help="shown while it is on.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Stop (on) or allow (off) new arming, through the API, no deploy."""
    if action not in {"on", "off", "list"}:
        raise typer.BadParameter(f"{action!r}: use on, off or list", param_hint="ACTION")
    if action != "list" and not scope:
        # Never a default: `kill-switch on` by itself must not stop every delivery.
        raise fail(f"kill-switch {action} needs a SCOPE (all, url:…, flows:…, …)", Exit.USAGE)
    with client(url, token) as api:
        if action == "on":
            switches = api.kill_switch_on(str(scope), reason=reason)
        elif action == "off":
            switches = api.kill_switch_off(str(scope))
        else:
            switches = [s for s in api.kill_switches() if s.scope.startswith(scope or "")]
    _switches(switches, json=json)


def _switches(switches: list[KillSwitch], *, json: bool) -> None:
    if json:
        as_json({"killSwitches": switches})
        return
    table(
        f"{len(switches)} kill switch(es) on",
        ("scope", "since", "reason"),
        ((s.scope, s.since, s.reason) for s in switches),
    )


@keys_app.callback(invoke_without_command=True)
def keys(
    ctx: typer.Context, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """The current and next signing keys."""
    if ctx.invoked_subcommand is not None:
        return
    with client(url, token) as api:
        found = api.signing_keys()
    if json:
        as_json(found)
    else:
        fields("signing keys", [("current", found.current), ("next", found.next)])


@keys_app.command("rotate")
def rotate(url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False) -> None:
    """Next becomes current and a new next is made (the old current signs for a day more)."""
    with client(url, token) as api:
        found = api.rotate_keys()
    if json:
        as_json(found)
    else:
        fields("rotated: receivers verify with", [("current", found.current), ("next", found.next)])


@clock_app.callback(invoke_without_command=True)
def clock(
    ctx: typer.Context, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Where the clock stands, and whether it is manual."""
    if ctx.invoked_subcommand is not None:
        return
    with client(url, token) as api:
        found = api.clock()
    if json:
        as_json(found)
    else:
        fields("clock", [("now", found.now), ("mode", found.mode)])


@clock_app.command("advance")
def advance(
    by: Annotated[str, typer.Argument(metavar="DURATION", help="a duration: 90s, 1h, 31d.")],
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Move a manual clock on, firing everything due on the way, in order, at its time."""
    duration(by, "BY")  # a typo is a usage error here, before any request
    with client(url, token) as api:
        moved = api.advance_clock(by)
    if json:
        as_json(moved)
    else:
        fields("clock moved", [("now", moved.now), ("fired", moved.fired)])


@clock_app.command("set")
def set_clock(
    to: Annotated[str, typer.Argument(metavar="TIME", help="an ISO 8601 time with its zone.")],
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Move a manual clock to a time, firing what falls due on the way."""
    when = aware_time(to, "TO")
    assert when is not None  # noqa: S101 - given
    with client(url, token) as api:
        moved = api.set_clock(when)
    if json:
        as_json(moved)
    else:
        fields("clock moved", [("now", moved.now), ("fired", moved.fired)])
