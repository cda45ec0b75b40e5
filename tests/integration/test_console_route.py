"""`GET /console` through the schedule handler: static files, no token, a strict CSP."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest

from functions.local.lambda_context import LocalContext
from tests.helpers.events import http_event
from tests.integration.conftest import Aws


def _get(path: str, token: str | None = None) -> dict[str, Any]:
    from functions.handlers import schedule

    result: dict[str, Any] = schedule.handler(
        http_event("GET", path, token=token), LocalContext(function_name="duetime-schedule")
    )
    return result


def _directives(policy: str) -> dict[str, str]:
    return dict(part.strip().partition(" ")[::2] for part in policy.split(";"))


def test_console_page_is_html_with_a_strict_csp_and_needs_no_token() -> None:
    # When the page is asked for without any token
    result = _get("/console")
    # Then it is HTML, and its policy allows scripts and styles from this origin only
    assert result["statusCode"] == 200
    headers = result["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    csp = _directives(headers["Content-Security-Policy"])
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    # And it holds no inline script: its one script is the module it loads by URL
    page = result["body"]
    assert re.findall(r"<script[^>]*>(.*?)</script>", page, re.DOTALL) == [""]
    assert '<script type="module" src="console/app.js"></script>' in page
    assert not re.search(r"<[^>]+\son\w+=", page)  # no inline event handlers either


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_console_assets_are_served_with_their_content_type(name: str, content_type: str) -> None:
    result = _get(f"/console/{name}")
    assert result["statusCode"] == 200
    assert result["headers"]["Content-Type"] == content_type
    assert "Content-Security-Policy" in result["headers"]
    shipped = resources.files("functions.console").joinpath(name).read_text(encoding="utf-8")
    assert result["body"] == shipped


@pytest.mark.parametrize("path", ["/console/index.html", "/console/secrets.json", "/console/.."])
def test_only_the_named_console_files_are_served(path: str) -> None:
    result = _get(path)
    assert result["statusCode"] == 404
    assert result["headers"]["Content-Type"] == "application/json"


def test_the_api_behind_the_console_still_needs_the_token(aws: Aws) -> None:
    # Given the console is public, what it reads is not: without a token the API is a 401
    assert _get("/console")["statusCode"] == 200
    assert _get("/v2/stats")["statusCode"] == 401
    assert _get("/v2/stats", token=aws.token)["statusCode"] == 200


def test_console_script_builds_its_dom_from_text_only() -> None:
    # The escaping rule, checked where it could be broken: no HTML parsing sink in the script
    script = resources.files("functions.console").joinpath("app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
