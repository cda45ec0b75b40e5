"""The web console in headless chromium against one `duetime dev` and one real receiver.

One browser, one server and one receiver for the module; each test gets a fresh browser
context (its own sessionStorage). Waits are Playwright's own, on locators, or the API's.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DevProcess, serving
from tests.e2e.console_browser import CHROMIUM, Scripted, chromium, open_tab, publish, read
from tests.e2e.console_browser import sign_in as open_console
from tests.helpers.receiver import Receiver
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

SCRIPT_BODY = "<script>window.__pwned=1</script>"
HTML_HEADER = '<img src="x" onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def server() -> Iterator[DevProcess]:
    yield from serving("embedded")


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    with Receiver(Scripted()) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(reason=f"the console tests drive Debian's chromium at {CHROMIUM} (.ci/run)")
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def _state(server: DevProcess, message_id: str) -> str:
    state: str = read(server, f"/v2/messages/{message_id}").json()["state"]
    return state


def _requests_to(receiver: Receiver, path: str, count: int) -> None:
    eventually(
        lambda: [r for r in receiver.requests if r.path == path], lambda got: len(got) >= count
    )


def test_the_console_asks_for_a_token_and_shows_nothing_without_it(
    page: Page, server: DevProcess
) -> None:
    # When the console is opened without a token
    page.goto(f"{server.url}/console")
    # Then it asks for one, and no view or tab is shown
    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.get_by_role("tablist")).to_be_hidden()
    expect(page.get_by_role("tabpanel")).to_be_hidden()


def test_a_wrong_token_shows_the_error_and_nothing_else(page: Page, server: DevProcess) -> None:
    # When a wrong token is given
    open_console(page, server, token="not-the-token")
    # Then the page says the server refused it, shows no view, and keeps no token
    expect(page.get_by_role("alert")).to_contain_text("The server refused this token")
    expect(page.get_by_role("tablist")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_with_the_token_it_shows_a_published_message_and_its_attempts(
    page: Page, server: DevProcess, hooks: Receiver
) -> None:
    # Given a message delivered to the receiver
    message_id = publish(server, hooks.url("/ok"), "hello console")
    eventually(lambda: _state(server, message_id), lambda state: state == "DELIVERED")
    # When the console is opened with the token
    open_console(page, server)
    # Then the message is listed, and its page shows the body and the delivered attempt
    row = page.get_by_role("row").filter(has_text=message_id)
    expect(row).to_contain_text("DELIVERED")
    row.get_by_role("button", name=message_id).click()
    expect(page.get_by_role("heading", name=message_id)).to_be_visible()
    expect(page.get_by_text("hello console", exact=True)).to_be_visible()
    attempts = page.get_by_role("table", name="Attempts and responses")
    expect(attempts.get_by_role("row").filter(has_text="DELIVERED")).to_contain_text("200")
    assert page.evaluate("sessionStorage.getItem('duetime.token')") == server.token


def test_a_failed_message_is_in_the_dlq_and_retry_redelivers_it(
    page: Page, server: DevProcess, hooks: Receiver
) -> None:
    # Given a message whose one attempt the receiver answers 500 (it answers 200 after)
    message_id = publish(server, hooks.url("/flaky"), "try again", **{"Upstash-Retries": "0"})
    eventually(lambda: _state(server, message_id), lambda state: state == "FAILED")
    # When the DLQ tab shows it and Retry is clicked
    open_console(page, server)
    open_tab(page, "DLQ")
    row = page.get_by_role("row").filter(has_text=message_id)
    expect(row).to_contain_text("500")
    row.get_by_role("button", name="Retry").click()
    # Then the page names the new message, the row is gone, and the receiver gets it again
    expect(page.get_by_role("status")).to_contain_text(f"Retried {message_id} as msg_")
    expect(row).to_have_count(0)
    _requests_to(hooks, "/flaky", 2)
    retried = page.get_by_role("status").get_by_role("button").inner_text()
    eventually(lambda: _state(server, retried), lambda state: state == "DELIVERED")
    assert read(server, f"/v2/dlq/{message_id}").status_code == 404


def test_delete_takes_a_second_click_and_removes_the_message_from_the_dlq(
    page: Page, server: DevProcess, hooks: Receiver
) -> None:
    message_id = publish(server, hooks.url("/fail"), "drop me", **{"Upstash-Retries": "0"})
    eventually(lambda: _state(server, message_id), lambda state: state == "FAILED")
    open_console(page, server)
    open_tab(page, "DLQ")
    row = page.get_by_role("row").filter(has_text=message_id)
    row.get_by_role("button", name="Delete").click()
    # The first click only arms the button: nothing is deleted yet
    assert read(server, f"/v2/dlq/{message_id}").status_code == 200
    row.get_by_role("button", name="Confirm delete").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted {message_id}")
    assert read(server, f"/v2/dlq/{message_id}").status_code == 404


def test_html_in_a_body_a_header_and_a_response_renders_as_text(
    page: Page, server: DevProcess, hooks: Receiver
) -> None:
    # Given a message whose body, forwarded header and response all hold HTML
    message_id = publish(
        server, hooks.url("/html"), SCRIPT_BODY, **{"Upstash-Forward-X-Html": HTML_HEADER}
    )
    eventually(lambda: _state(server, message_id), lambda state: state == "DELIVERED")
    # When its page is opened and the response unfolded
    open_console(page, server)
    page.get_by_role("button", name=message_id).click()
    expect(page.get_by_text(SCRIPT_BODY, exact=True)).to_be_visible()
    expect(page.get_by_text(HTML_HEADER, exact=True)).to_be_visible()
    page.get_by_text("response", exact=True).click()
    expect(page.get_by_text(Scripted.HTML_REPLY.decode(), exact=True)).to_be_visible()
    # Then all of it is text: no script ran and no element was made from it
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main script, main img").count() == 0


def test_the_event_log_filters_by_state(page: Page, server: DevProcess, hooks: Receiver) -> None:
    message_id = publish(server, hooks.url("/fail"), "filtered", **{"Upstash-Retries": "0"})
    eventually(lambda: _state(server, message_id), lambda state: state == "FAILED")
    open_console(page, server)
    open_tab(page, "Events")
    page.get_by_label("state").select_option("FAILED")
    page.get_by_label("messageId").fill(message_id)
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row").filter(has_text=message_id)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("FAILED")


def test_a_flow_shows_its_steps_on_a_timeline(
    page: Page, server: DevProcess, hooks: Receiver
) -> None:
    # Given a two-step flow that has run to the end
    steps = [
        {"id": "welcome", "destination": hooks.url("/ok")},
        {"id": "follow_up", "destination": hooks.url("/ok"), "delay": "1s"},
    ]
    started = httpx.post(
        f"{server.url}/v2/flows/console-flow",
        json={"stateToken": "s", "steps": steps},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert started.status_code == 201, started.text
    eventually(
        lambda: read(server, "/v2/flows/console-flow").json()["status"],
        lambda status: status == "COMPLETED",
    )
    # When its id is entered in the Flow tab
    open_console(page, server)
    open_tab(page, "Flow")
    page.get_by_label("flow id").fill("console-flow")
    page.get_by_role("button", name="Show").click()
    # Then each step is on the timeline and in the ledger, sent
    expect(page.get_by_role("img", name="step times")).to_contain_text("follow_up")
    for step in ("welcome", "follow_up"):
        expect(page.get_by_role("row").filter(has_text=step).first).to_contain_text("SENT")


def test_stats_render_every_key_the_api_returns(page: Page, server: DevProcess) -> None:
    keys = read(server, "/v2/stats").json().keys()
    open_console(page, server)
    open_tab(page, "Stats")
    for key in keys:
        expect(page.get_by_text(key, exact=True).first).to_be_visible()
