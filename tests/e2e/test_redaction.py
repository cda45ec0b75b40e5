"""Upstash-Redact-Fields through the Python SDK on both engines: the receiver gets the
originals, every read (the message, the DLQ, a schedule) shows only their hashes."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from qstash import QStash

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Receiver, Reply

pytestmark = pytest.mark.e2e


def _sha(value: str) -> str:
    return "REDACTED:" + hashlib.sha256(value.encode()).hexdigest()


def _get(dev: DevProcess, path: str) -> dict[str, object]:
    answer = httpx.get(f"{dev.url}{path}", headers={"Authorization": f"Bearer {dev.token}"})
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def test_redacted_fields_are_delivered_but_never_read_back(either_dev: DevProcess) -> None:
    client = QStash(either_dev.token, base_url=either_dev.url, retry=False)
    body = '{"card": "4111 1111"}'
    with Receiver(lambda _r, _n: Reply(status=500)) as down:
        # When a message is published with its body and one header redacted, and fails
        answer = client.message.publish(
            url=down.url("/pay"),
            body=body,
            headers={"Authorization": "Bearer s3cret", "X-Plain": "visible"},
            retries=0,
            redact={"body": True, "header": ["Authorization"]},
        )
        (delivered,) = down.wait_for(1, timeout=15)
    message_id = answer.message_id  # type: ignore[union-attr]
    # Then the destination got the originals
    assert delivered.body.decode() == body
    assert delivered.headers["Authorization"] == "Bearer s3cret"
    # And neither the message nor its DLQ entry shows them, only their hashes
    deadline = time.monotonic() + 10
    while _get(either_dev, f"/v2/messages/{message_id}")["state"] != "FAILED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for view in (
        _get(either_dev, f"/v2/messages/{message_id}"),
        _get(either_dev, f"/v2/dlq/{message_id}"),
    ):
        assert view["body"] == _sha(body)
        header = view["header"]
        assert isinstance(header, dict)
        headers = {name.lower(): value for name, value in header.items()}
        assert headers["authorization"] == [_sha("Bearer s3cret")]
        assert headers["x-plain"] == ["visible"]
        assert "s3cret" not in str(view)
        assert "4111" not in str(view)


def test_a_redacted_schedule_reads_back_redacted(either_dev: DevProcess) -> None:
    client = QStash(either_dev.token, base_url=either_dev.url, retry=False)
    schedule_id = client.schedule.create(
        destination="https://example.com/nightly",
        cron="0 3 * * *",
        body="token=abc",
        redact={"body": True},
    )
    try:
        assert _get(either_dev, f"/v2/schedules/{schedule_id}")["body"] == _sha("token=abc")
    finally:
        client.schedule.delete(schedule_id)
