"""The web console in a real browser: Debian's chromium driven by Playwright (never
`playwright install`: nothing is downloaded), and what its tests and screenshots share."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Received, Reply

CHROMIUM = Path("/usr/bin/chromium")
# Headless and offline: no sandbox (CI runs as root), no GPU, and none of chromium's own
# background traffic (updates, sync, field trials) that would reach for the network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, dev: DevProcess, token: str | None = None) -> None:
    """Open the console and give it a token (the server's own unless told otherwise)."""
    page.goto(f"{dev.url}/console")
    page.get_by_label("API token").fill(dev.token if token is None else token)
    page.get_by_role("button", name="Open console").click()


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def publish(dev: DevProcess, url: str, body: str = "", **headers: str) -> str:
    """Publish through the HTTP API; returns the message id."""
    answer = httpx.post(
        f"{dev.url}/v2/publish/{url}",
        content=body,
        headers={"Authorization": f"Bearer {dev.token}", **headers},
    )
    assert answer.status_code == 201, answer.text
    message_id: str = answer.json()["messageId"]
    return message_id


def read(dev: DevProcess, path: str) -> httpx.Response:
    return httpx.get(f"{dev.url}{path}", headers={"Authorization": f"Bearer {dev.token}"})


class Scripted:
    """A receiver's answers by path: `/fail…` always 500, `/flaky…` 500 the first time and
    200 after, `/html…` 200 with an HTML body, anything else 200."""

    HTML_REPLY = b'<img src="x" onerror="window.__pwned=2">'

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: Received, _index: int) -> Reply:
        path = request.path
        if path.startswith("/fail"):
            return Reply(status=500, body=b"receiver down")
        if path.startswith("/flaky"):
            with self._lock:
                first = path not in self._seen
                self._seen.add(path)
            return Reply(status=500, body=b"not yet") if first else Reply()
        if path.startswith("/html"):
            return Reply(headers={"Content-Type": "text/html"}, body=self.HTML_REPLY)
        return Reply()
