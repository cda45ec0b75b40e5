"""Screenshots of every console view for docs/console.md: `python -m tests.e2e.console_screenshots`.

Starts its own `duetime dev` and receiver, publishes a few messages (delivered, failed, one
still waiting), two schedules and a flow, then saves one PNG per view to docs/console/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DevProcess, start_dev, stop_dev
from tests.e2e.console_browser import Scripted, chromium, open_tab, publish, read, sign_in
from tests.helpers.receiver import Receiver
from tests.helpers.waiting import eventually

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"
FLOW_ID = "onboarding-42"


def _seed(dev: DevProcess, hooks: Receiver) -> str:
    """Publish what the views show; returns the id of a delivered message to open."""
    auth = {"Authorization": f"Bearer {dev.token}"}
    shown = publish(
        dev,
        hooks.url("/hooks/offer?id=7"),
        '{"offer": "A-1"}',
        **{"Content-Type": "application/json", "Upstash-Forward-X-Tenant": "acme"},
    )
    publish(dev, hooks.url("/hooks/receipt"), '{"receipt": 1}', **{"Upstash-Label": "billing"})
    publish(dev, hooks.url("/html/page"), "<b>bold?</b> no: text")
    publish(dev, hooks.url("/fail/sms"), '{"to": "+33..."}', **{"Upstash-Retries": "0"})
    publish(dev, hooks.url("/flaky/email"), "hello", **{"Upstash-Retries": "0"})
    publish(dev, hooks.url("/hooks/later"), "in ten minutes", **{"Upstash-Delay": "10m"})
    for cron, path in (
        ("*/5 * * * *", "/hooks/digest"),
        ("CRON_TZ=Europe/Paris 0 9 * * 1-5", "/hooks/report"),
    ):
        created = httpx.post(
            f"{dev.url}/v2/schedules/{hooks.url(path)}", headers={**auth, "Upstash-Cron": cron}
        )
        assert created.status_code == 201, created.text
    steps = [
        {"id": "welcome", "destination": hooks.url("/hooks/sms"), "body": {"n": 1}},
        {"id": "tip_1", "destination": hooks.url("/hooks/sms"), "delay": "1s"},
        {"id": "tip_2", "destination": hooks.url("/hooks/sms"), "delay": "1s"},
    ]
    started = httpx.post(
        f"{dev.url}/v2/flows/{FLOW_ID}", json={"stateToken": "new", "steps": steps}, headers=auth
    )
    assert started.status_code == 201, started.text
    eventually(
        lambda: read(dev, f"/v2/flows/{FLOW_ID}").json()["status"],
        lambda status: status == "COMPLETED",
    )
    eventually(lambda: len(read(dev, "/v2/dlq").json()["messages"]), lambda n: n == 2)
    eventually(
        lambda: read(dev, f"/v2/messages/{shown}").json()["state"], lambda s: s == "DELIVERED"
    )
    return shown


def _shoot(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(OUT.parents[1])}")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    process, dev = start_dev()
    try:
        with Receiver(Scripted()) as hooks, chromium() as browser:
            shown = _seed(dev, hooks)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{dev.url}/console")
            expect(page.get_by_label("API token")).to_be_visible()
            _shoot(page, "login")
            sign_in(page, dev)
            expect(page.get_by_role("row").filter(has_text=shown)).to_be_visible()
            _shoot(page, "messages")
            page.get_by_role("button", name=shown).click()
            page.get_by_text("response", exact=True).first.click()
            expect(page.get_by_role("table", name="Attempts and responses")).to_be_visible()
            _shoot(page, "message")
            for tab, name, ready in (
                ("Schedules", "schedules", page.get_by_role("cell", name="*/5 * * * *")),
                ("DLQ", "dlq", page.get_by_role("button", name="Retry")),
                ("Events", "events", page.get_by_role("cell", name="DELIVERED", exact=True)),
                ("Stats", "stats", page.get_by_text("scheduled", exact=True)),
            ):
                open_tab(page, tab)
                expect(ready.first).to_be_visible()
                _shoot(page, name)
            open_tab(page, "Flow")
            page.get_by_label("flow id").fill(FLOW_ID)
            page.get_by_role("button", name="Show").click()
            expect(page.get_by_role("img", name="step times")).to_be_visible()
            _shoot(page, "flow")
    finally:
        stop_dev(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
