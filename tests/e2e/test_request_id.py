"""A request id sent with a publish (`X-Request-Id`, W3C `traceparent`) is kept with the
message, shown in the event log, and sent on every delivery attempt and on the callback: one
id from the incoming call to the delivery (scenario 5). Both engines."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Receiver, Reply

pytestmark = pytest.mark.e2e

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_request_id_reaches_every_attempt_the_callback_and_the_log(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    # Given a destination that fails once, then answers 200
    with Receiver(lambda _r, n: Reply(status=500 if n == 0 else 200)) as flaky:
        # When a publish carries a request id and a traceparent, and asks for a callback
        answer = httpx.post(
            f"{either_dev.url}/v2/publish/{flaky.url('/rid')}",
            content=b"x",
            headers={
                "Authorization": f"Bearer {either_dev.token}",
                "X-Request-Id": "req-7f3a",
                "traceparent": TRACEPARENT,
                "Upstash-Retry-Delay": "200",
                "Upstash-Callback": receiver.url("/callback"),
            },
        )
        assert answer.status_code == 201, answer.text
        message_id = answer.json()["messageId"]
        attempts = flaky.wait_for(2, timeout=15)
    # Then both attempts carried them
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.headers["X-Request-Id"] == "req-7f3a"
        assert attempt.headers["traceparent"] == TRACEPARENT
    # And so did the callbacks (one per attempt)
    callbacks = receiver.wait_for(2, timeout=15)
    assert {c.headers["X-Request-Id"] for c in callbacks} == {"req-7f3a"}
    # And the message and its events show it
    auth = {"Authorization": f"Bearer {either_dev.token}"}
    message = httpx.get(f"{either_dev.url}/v2/messages/{message_id}", headers=auth).json()
    assert (message["requestId"], message["traceparent"]) == ("req-7f3a", TRACEPARENT)
    events = httpx.get(
        f"{either_dev.url}/v2/events", params={"messageId": message_id}, headers=auth
    ).json()["events"]
    assert events
    assert {e["requestId"] for e in events} == {"req-7f3a"}


@pytest.mark.parametrize(
    ("header", "value", "error"),
    [
        ("traceparent", "00-xyz-00f067aa0ba902b7-01", "traceparent must be W3C trace context"),
        ("X-Request-Id", "a" * 300, "X-Request-Id"),
    ],
)
def test_a_malformed_request_id_is_a_400_naming_it(
    either_dev: DevProcess, header: str, value: str, error: str
) -> None:
    answer = httpx.post(
        f"{either_dev.url}/v2/publish/https://example.com/x",
        content=b"x",
        headers={"Authorization": f"Bearer {either_dev.token}", header: value},
    )
    assert answer.status_code == 400
    assert error in answer.json()["error"]
