"""What every command shares: where the API is, the token, --json, and the exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Annotated

import typer

from duetime.client import (
    ConflictError,
    Duetime,
    DuetimeError,
    NotFoundError,
    UnauthorizedError,
    UnreachableError,
)
from functions.domain.durations import parse_duration
from functions.domain.errors import ValidationError
from functions.local.defaults import DEV_PORT, DEV_TOKEN


class Exit(IntEnum):
    """What scripts can rely on (docs/operations.md lists them)."""

    OK = 0
    FAILED = 1  # the server refused or failed, or a check (flows timing) did not pass
    USAGE = 2  # a bad flag or argument (Click's own code)
    NOT_FOUND = 3
    UNAUTHORIZED = 4
    UNREACHABLE = 5
    CONFLICT = 6


Url = Annotated[
    str,
    typer.Option(
        "--url",
        metavar="URL",
        envvar="QSTASH_URL",
        help="the duetime API (dev server, or a deployment).",
    ),
]
Token = Annotated[
    str,
    typer.Option(
        "--token",
        metavar="TOKEN",
        envvar="QSTASH_TOKEN",
        help="its bearer token.",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="print JSON, not a table.")]
DEFAULT_URL = f"http://127.0.0.1:{DEV_PORT}"
DEFAULT_TOKEN = DEV_TOKEN  # the dev server's, like QStash's local server


def fail(message: str, code: Exit) -> typer.Exit:
    typer.secho(f"duetime: {message}", err=True, fg="red")
    return typer.Exit(int(code))


@contextmanager
def client(url: str, token: str) -> Iterator[Duetime]:
    """A client whose failures end the command with one line and its exit code."""
    try:
        with Duetime(url, token) as opened:
            yield opened
    except UnauthorizedError as exc:
        raise fail(
            f"{url} refused the token ({exc.message}); set --token or QSTASH_TOKEN",
            Exit.UNAUTHORIZED,
        ) from None
    except UnreachableError as exc:
        raise fail(
            f"cannot reach {url} ({exc.message}); set --url or QSTASH_URL", Exit.UNREACHABLE
        ) from None
    except NotFoundError as exc:
        raise fail(exc.message, Exit.NOT_FOUND) from None
    except ConflictError as exc:
        raise fail(exc.message, Exit.CONFLICT) from None
    except DuetimeError as exc:  # BadRequestError, ServerError: the server said why
        raise fail(exc.message, Exit.FAILED) from None
    except ValueError as exc:  # the client refused an argument before sending it
        raise fail(str(exc), Exit.USAGE) from None


def aware_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time with its zone; a naive one is refused, never guessed."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no timezone: add one (2026-12-01T09:00:00+01:00 or …Z)",
            param_hint=name,
        )
    return parsed


def duration(value: str, name: str) -> timedelta:
    try:
        return parse_duration(value, field=name)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None
