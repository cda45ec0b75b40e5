"""What the client raises: one exception type per way a call can fail, each with the
server's `{"error": "..."}` message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class DuetimeError(Exception):
    """Any failure of a duetime call; `status` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class UnreachableError(DuetimeError):
    """No answer: a wrong URL, the server down, or a timeout."""


class UnauthorizedError(DuetimeError):
    """401/403: the token is missing or wrong."""


class BadRequestError(DuetimeError):
    """400 (and other 4xx not below): the server named what was wrong."""


class NotFoundError(DuetimeError):
    """404: no such message, schedule, flow or step."""


class ConflictError(DuetimeError):
    """409: a state token that did not match, or a clock that is not manual."""


class ServerError(DuetimeError):
    """5xx: the server failed; the call may be retried."""


_BY_STATUS: dict[int, type[DuetimeError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
}
_ABOUT_THE_ID = frozenset({404, 409})


def raise_for(response: httpx.Response) -> None:
    """Turn a failed answer into its typed exception, carrying the server's message."""
    if response.is_success:
        return
    try:
        body = response.json()
        message = str(body["error"]) if isinstance(body, dict) and "error" in body else None
    except ValueError:
        message = None
    text = message or _plain_text(response) or response.reason_phrase
    if response.status_code >= 500:
        kind: type[DuetimeError] = ServerError
    elif response.status_code in _ABOUT_THE_ID and message is None:
        # Not duetime's `{"error": ...}`: a wrong path prefix, a proxy's page. It says
        # nothing about the message or flow asked for, so it is never "no such id".
        kind = ServerError
        text = f"{text} (not duetime's answer; is the URL the duetime API?)"
    else:
        kind = _BY_STATUS.get(response.status_code, BadRequestError)
    raise kind(f"{response.status_code}: {text}", status=response.status_code)


def _plain_text(response: httpx.Response) -> str:
    """A non-JSON error body on one short line; an HTML page (a proxy's, a load
    balancer's) says nothing a terminal should print, so only its status is kept."""
    if "html" in response.headers.get("content-type", ""):
        return ""
    return " ".join(response.text.split())[:200]


def read_answer(response: httpx.Response, read: Callable[[Any], T]) -> T:
    """The call's value from a successful answer. An answer that is not duetime's JSON
    (another service at that URL, a captive portal) is a ServerError naming the URL."""
    raise_for(response)
    try:
        return read(response.json() if response.content else None)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ServerError(
            f"{response.url} answered {response.status_code} with something other than"
            " duetime's JSON; is that the duetime API?",
            status=response.status_code,
        ) from exc
