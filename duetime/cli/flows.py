"""`duetime flows show|log|replay|set-state|cancel|timing`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from duetime.cli.common import (
    DEFAULT_TOKEN,
    DEFAULT_URL,
    Exit,
    Json,
    Token,
    Url,
    client,
    duration,
    fail,
)
from duetime.cli.output import as_json, table
from duetime.cli.timing import gaps
from duetime.client import Flow

app = typer.Typer(help="Multi-step flows: the ledger, its log, replay, state, cancel, timing.")
FlowId = Annotated[str, typer.Argument(metavar="FLOW_ID", help="the flow (session) id.")]


def _ledger(flow: Flow) -> None:
    reason = f" ({flow.reason})" if flow.reason else ""
    table(
        f"flow {flow.flow_id}: {flow.status}{reason}, run {flow.run}, "
        f"state token {flow.state_token}",
        ("step", "status", "attempts", "due", "sent", "last status", "reason / error"),
        (
            (
                s.id,
                s.status,
                s.attempts,
                s.due_at,
                s.sent_at,
                s.last_status,
                _why(s.reason, s.last_error, s.sent_by),
            )
            for s in flow.steps
        ),
    )


def _why(reason: str | None, error: str | None, sent_by: dict[str, object] | None) -> str | None:
    parts = [p for p in (reason, error) if p]
    if sent_by:
        parts.append("sent by " + ", ".join(f"{k} {v}" for k, v in sent_by.items()))
    return "; ".join(parts) or None


@app.command("show")
def show(
    flow_id: FlowId, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """The ledger: each step armed, in flight, sent, skipped (and why) or failed."""
    with client(url, token) as api:
        flow = api.flow(flow_id)
    _show(flow, json=json)


@app.command("log")
def log(
    flow_id: FlowId, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Every event of the flow and its steps, in time order."""
    with client(url, token) as api:
        found = api.flow_log(flow_id)
    if json:
        as_json(found)
        return
    table(
        f"flow {found.flow_id}: {len(found.events)} event(s)",
        ("time", "step", "event", "detail"),
        (
            (
                e.time,
                e.step_id,
                e.event,
                ", ".join(f"{k}={v}" for k, v in (e.model_extra or {}).items()),
            )
            for e in found.events
        ),
    )


@app.command("replay")
def replay(
    flow_id: FlowId,
    step_id: Annotated[str, typer.Argument(metavar="STEP_ID", help="the step to run again.")],
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Run a step now with its payload; a step already sent is skipped, never sent twice."""
    with client(url, token) as api:
        result = api.replay_step(flow_id, step_id)
    if json:
        as_json(result)
    elif result.skipped:
        typer.echo(f"skipped {step_id}: {result.reason}")
    elif result.ok:
        typer.echo(f"ran {step_id}")
    else:
        typer.echo(f"{step_id} did not run: {result.reason or result.error}")
    if not result.ok:
        raise typer.Exit(int(Exit.FAILED))


@app.command("set-state")
def set_state(
    flow_id: FlowId,
    state_token: Annotated[str, typer.Argument(metavar="STATE_TOKEN", help="the new state token.")],
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect", metavar="TOKEN", help="only if the token is this now (else exit 6)."
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """Move the session's state token (reset a stuck session): steps expecting another go stale."""
    with client(url, token) as api:
        flow = api.set_flow_state(flow_id, state_token, expect=expect)
    _show(flow, json=json)


@app.command("cancel")
def cancel(
    flow_id: FlowId, url: Url = DEFAULT_URL, token: Token = DEFAULT_TOKEN, json: Json = False
) -> None:
    """Cancel what is armed; nothing more is sent."""
    with client(url, token) as api:
        flow = api.cancel_flow(flow_id)
    _show(flow, json=json)


@app.command("timing")
def timing(
    flow_id: FlowId,
    tolerance: Annotated[
        str,
        typer.Option(
            "--tolerance", metavar="DURATION", help="how far a gap may be off (exit 1 beyond it)."
        ),
    ] = "2s",
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            metavar="GAPS",
            help="the gaps wanted, one per step (8s,8s,0s); default: the definition's delays.",
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = DEFAULT_TOKEN,
    json: Json = False,
) -> None:
    """The gaps between steps as sent, against the expected ones."""
    allowed = duration(tolerance, "--tolerance")
    wanted = [duration(part.strip(), "--expect") for part in expect.split(",")] if expect else None
    with client(url, token) as api:
        flow = api.flow(flow_id)
    try:
        rows = gaps(flow, wanted)
    except ValueError as exc:
        raise fail(str(exc), Exit.USAGE) from None
    off = [row.step_id for row in rows if not row.within(allowed)]
    if json:
        as_json(
            {
                "flowId": flow.flow_id,
                "toleranceSeconds": allowed.total_seconds(),
                "withinTolerance": not off,
                "steps": [
                    {
                        "id": r.step_id,
                        "status": r.status,
                        "sentAt": r.sent_at,
                        "expectedSeconds": _seconds(r.expected),
                        "actualSeconds": _seconds(r.actual),
                        "driftSeconds": _seconds(r.drift),
                    }
                    for r in rows
                ],
            }
        )
    else:
        table(
            f"flow {flow.flow_id}: gaps between steps (tolerance ±{allowed.total_seconds():g} s)",
            ("step", "status", "sent", "expected s", "actual s", "drift s", "ok"),
            (
                (
                    r.step_id,
                    r.status,
                    r.sent_at,
                    _seconds(r.expected),
                    _seconds(r.actual),
                    _seconds(r.drift),
                    "yes" if r.within(allowed) else "NO",
                )
                for r in rows
            ),
        )
    if off:
        raise fail(f"gap(s) off by more than {tolerance}: {', '.join(off)}", Exit.FAILED)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def _show(flow: Flow, *, json: bool) -> None:
    if json:
        as_json(flow)
    else:
        _ledger(flow)
