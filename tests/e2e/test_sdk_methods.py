"""The rest of the Python SDK's methods against `duetime dev`, on both engines: schedules
(create_json, pause, resume, list, delete), cancel_many and cancel_all, the log, and the DLQ
(get, list, delete, delete_many). On servers of this module's own (one per engine): cancel_all
and the DLQ calls act on everything a server holds."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from qstash import QStash
from qstash.errors import QStashError

from tests.e2e.conftest import ENGINES, DevProcess, serving
from tests.helpers.receiver import Receiver, Reply

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=ENGINES)
def fresh_dev(request: pytest.FixtureRequest) -> Iterator[DevProcess]:
    yield from serving(request.param)


def test_schedule_create_json_pause_resume_list_and_delete(fresh_dev: DevProcess) -> None:
    client = QStash(fresh_dev.token, base_url=fresh_dev.url, retry=False)
    schedule_id = client.schedule.create_json(
        destination="https://example.com/report", cron="0 9 * * 1", body={"weekly": True}
    )
    assert client.schedule.get(schedule_id).paused is False
    client.schedule.pause(schedule_id)
    assert client.schedule.get(schedule_id).paused is True
    client.schedule.resume(schedule_id)
    resumed = client.schedule.get(schedule_id)
    assert resumed.paused is False
    assert resumed.cron == "0 9 * * 1"
    assert resumed.body == '{"weekly": true}'
    assert [s.schedule_id for s in client.schedule.list()] == [schedule_id]
    client.schedule.delete(schedule_id)
    assert client.schedule.list() == []
    with pytest.raises(QStashError, match="not found"):
        client.schedule.get(schedule_id)


def test_cancel_many_then_cancel_all_and_the_log_shows_it(fresh_dev: DevProcess) -> None:
    client = QStash(fresh_dev.token, base_url=fresh_dev.url, retry=False)
    ids = [
        client.message.publish(url=f"https://example.com/{n}", body="x", delay="1h").message_id  # type: ignore[union-attr]
        for n in range(4)
    ]
    assert client.message.cancel_many(ids[:2]) == 2
    assert client.message.cancel_all() == 2
    assert {client.message.get(m).url for m in ids} == {
        f"https://example.com/{n}" for n in range(4)
    }
    logged = client.log.list(filter={"message_id": ids[0]})
    assert [log.state.value for log in logged.logs] == ["CANCELED", "CREATED"]
    assert logged.logs[0].url == "https://example.com/0"


def test_dlq_get_list_delete_and_delete_many(fresh_dev: DevProcess) -> None:
    client = QStash(fresh_dev.token, base_url=fresh_dev.url, retry=False)
    with Receiver(lambda _request, _n: Reply(status=500, body=b"broken")) as down:
        ids = [
            client.message.publish(url=down.url(f"/d/{n}"), body="x", retries=0).message_id  # type: ignore[union-attr]
            for n in range(3)
        ]
        deadline = time.monotonic() + 15
        while len(client.dlq.list().messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    listed = client.dlq.list()
    assert sorted(m.dlq_id for m in listed.messages) == sorted(ids)
    one = client.dlq.get(ids[0])
    assert (one.response_status, one.response_body) == (500, "broken")
    client.dlq.delete(ids[0])
    assert client.dlq.delete_many([*ids[1:], "msg_nope"]) == 2
    assert client.dlq.list().messages == []


def test_messages_and_schedules_read_back_the_callers_address(either_dev: DevProcess) -> None:
    client = QStash(either_dev.token, base_url=either_dev.url, retry=False)
    message_id = client.message.publish(
        url="https://example.com/ip", body="x", delay="1h"
    ).message_id  # type: ignore[union-attr]
    assert client.message.get(message_id).caller_ip == "127.0.0.1"
    client.message.cancel(message_id)
    schedule_id = client.schedule.create(destination="https://example.com/ip", cron="0 9 * * 1")
    assert client.schedule.get(schedule_id).caller_ip == "127.0.0.1"
    client.schedule.delete(schedule_id)
