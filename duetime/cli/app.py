"""The `duetime` command tree."""

from __future__ import annotations

import typer

from duetime.cli import dlq, flows, messages, operate, schedules

HELP = """\
Operate duetime: the dev server, and any deployment through its API.

Every command but `dev` reads the API's address from --url or QSTASH_URL and its token
from --token or QSTASH_TOKEN (a .env file in the working directory may set them; the
environment wins over it, and a flag over both). Without them it talks to `duetime dev`
on 127.0.0.1:8080 with the dev token.

Exit codes: 0 done; 1 refused or failed (or `flows timing` found a gap off); 2 bad usage;
3 not found; 4 token refused; 5 server unreachable; 6 conflict (a state token that moved,
or a clock that is not manual).
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(messages.app, name="messages")
app.add_typer(dlq.app, name="dlq")
app.add_typer(schedules.app, name="schedules")
app.add_typer(flows.app, name="flows")
app.add_typer(operate.keys_app, name="keys")
app.add_typer(operate.clock_app, name="clock")
app.command("stats")(operate.stats)
app.command("kill-switch")(operate.kill_switch)


@app.command(
    "dev",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def dev(ctx: typer.Context) -> None:
    """Run duetime offline on 127.0.0.1 (`duetime dev --help` for its flags)."""
    # The dev server keeps its own argparse front (functions/local/cli.py): it is part of the
    # functions package and runs as `python -m functions.local.cli dev` without the `cli`
    # extra, so its flags live in one place and this only hands them over.
    from functions.local.cli import main as dev_main  # noqa: PLC0415 - starts a server

    raise typer.Exit(dev_main(["dev", *ctx.args]))
