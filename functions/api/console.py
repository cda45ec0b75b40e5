"""`GET /console` and its assets: the web console, served without a token.

The page holds no data: the browser asks for the token and reads everything from the
token-protected `/v2` API. Only the files named here are served, each with its content type
and a Content-Security-Policy that allows no inline script and no other origin.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.domain.errors import NotFoundError

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PATH = "/console"
PAGE = "index.html"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    # Without an icon of its own the browser asks for /favicon.ico: a 401 on every load.
    "icon.svg": "image/svg+xml",
}
# Scripts, styles and API calls from this origin only; no inline code, no frames, no forms
# posting elsewhere. The page builds its DOM with textContent, and this is the second wall.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time: a deploy must never leave an old app.js next to a new page.
    "Cache-Control": "no-cache",
}


def is_public(path: str) -> bool:
    """Whether a request path is the console's (served without a token). Every other route
    is anchored at /v2, so no API route can match a path under /console."""
    return path == PATH or path.startswith(PATH + "/")


def _read(name: str) -> str:
    # Read per request (a few KB from local disk): an edited file shows on reload in dev.
    return resources.files("functions.console").joinpath(name).read_text(encoding="utf-8")


def _file(name: str, content_type: str) -> Response[Any]:
    return Response(status_code=200, content_type=content_type, body=_read(name), headers=_HEADERS)


@router.get(PATH)
def page() -> Response[Any]:
    return _file(PAGE, "text/html; charset=utf-8")


@router.get(f"{PATH}/<name>")
def asset(name: str) -> Response[Any]:
    content_type = ASSETS.get(name)
    if content_type is None:
        raise NotFoundError(f"no console file {name!r}; the console is at {PATH}")
    return _file(name, content_type)
