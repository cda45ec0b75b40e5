"""The official Python SDK against `duetime dev`, delivering to a real receiver."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
import standardwebhooks
from qstash import QStash
from qstash import Receiver as QStashReceiver
from qstash.errors import QStashError

from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.e2e


def _client(dev: DevProcess) -> QStash:
    return QStash(dev.token, base_url=dev.url, retry=False)


def test_dev_server_prints_qstash_dev_credentials_by_default(dev: DevProcess) -> None:
    assert dev.token == DEV_TOKEN
    assert (dev.current_key, dev.next_key) == (DEV_SIGNING_KEYS.current, DEV_SIGNING_KEYS.next)
    assert dev.webhook_secret.startswith("whsec_")
    assert dev.url.startswith("http://127.0.0.1:")


def test_sdk_publish_with_delay_is_delivered_once_signed_two_to_three_seconds_later(
    dev: DevProcess, receiver: Receiver
) -> None:
    # Given the official SDK pointed at duetime dev
    client = _client(dev)
    url = receiver.url("/api/offer?tenant=acme")
    # When it publishes JSON with a 2 s delay
    sent_at = time.time()
    response = client.message.publish_json(
        url=url, body={"offer": "A-1"}, delay="2s", headers={"X-Trace": "t-1"}
    )
    # Then the receiver gets it once, 2-3 s later
    (request,) = receiver.wait_for(1, timeout=10)
    assert 2.0 <= request.at - sent_at <= 3.0
    receiver.wait_for(2, timeout=1.5)
    assert len(receiver.requests) == 1
    assert request.path == "/api/offer?tenant=acme"
    assert request.body == b'{"offer": "A-1"}'
    assert request.headers["X-Trace"] == "t-1"
    # And both signatures verify with the printed keys
    QStashReceiver(dev.current_key, dev.next_key).verify(
        signature=request.headers["Upstash-Signature"], body=request.body.decode(), url=url
    )
    standardwebhooks.Webhook(dev.webhook_secret).verify(request.body, dict(request.headers))
    assert request.headers["Upstash-Message-Id"] == response.message_id  # type: ignore[union-attr]


def test_sdk_reads_back_a_message_and_cancels_it(dev: DevProcess, receiver: Receiver) -> None:
    client = _client(dev)
    response = client.message.publish(url=receiver.url(), body="later", delay="1h", retries=2)
    message_id = response.message_id  # type: ignore[union-attr]
    message = client.message.get(message_id)
    assert message.message_id == message_id
    assert message.url == receiver.url()
    assert message.body == "later"
    assert message.max_retries == 2
    assert message.not_before - message.created_at == 3_600_000
    client.message.cancel(message_id)
    state = httpx.get(
        f"{dev.url}/v2/messages/{message_id}", headers={"Authorization": f"Bearer {dev.token}"}
    ).json()["state"]
    assert state == "CANCELED"


def test_sdk_sees_a_clear_error_for_a_bad_destination(dev: DevProcess) -> None:
    with pytest.raises(QStashError, match=r"400.*http\(s\) URL"):
        _client(dev).message.publish(url="ftp://example.com/file", body="x")


def test_sdk_gets_the_signing_keys(dev: DevProcess) -> None:
    keys = _client(dev).signing_key.get()
    assert (keys.current, keys.next) == (dev.current_key, dev.next_key)


def test_sdk_with_a_wrong_token_gets_401(dev: DevProcess) -> None:
    client = QStash("not-the-token", base_url=dev.url, retry=False)
    with pytest.raises(QStashError, match="401"):
        client.message.publish(url="https://example.com/x", body="x")


def test_sdk_minutely_schedule_delivers_within_a_second_of_the_minute(
    dev: DevProcess, receiver: Receiver
) -> None:
    # Given a `* * * * *` schedule created through the SDK
    client = _client(dev)
    url = receiver.url("/cron")
    schedule_id = client.schedule.create(destination=url, cron="* * * * *", body="tick")
    try:
        schedule = client.schedule.get(schedule_id)
        assert schedule.cron == "* * * * *"
        next_minute = schedule.next_schedule_time / 1000  # type: ignore[operator]
        # When the minute comes, then it is delivered within a second of it, signed
        (request,) = receiver.wait_for(1, timeout=75)
        fired_for = round(request.at / 60) * 60
        # (the minute before next_minute when it turned between the create and the get)
        assert fired_for in (next_minute, next_minute - 60)
        assert 0 <= request.at - fired_for <= 1.0
        assert request.headers["Upstash-Schedule-Id"] == schedule_id
        QStashReceiver(dev.current_key, dev.next_key).verify(
            signature=request.headers["Upstash-Signature"], body="tick", url=url
        )
    finally:
        client.schedule.delete(schedule_id)
    assert [s.schedule_id for s in client.schedule.list()] == []


def _cli(dev: DevProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [
            sys.executable,
            "-m",
            "duetime.cli",
            "kill-switch",
            *args,
            "--url",
            dev.url,
            "--token",
            dev.token,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )


def test_kill_switch_cli_stops_and_restores_publishing(dev: DevProcess) -> None:
    client = _client(dev)
    on = _cli(dev, "on", "all", "--reason", "incident 7")
    assert '"scope": "all"' in on.stdout
    try:
        with pytest.raises(QStashError, match=r"503.*kill switch 'all' is on"):
            client.message.publish(url="https://example.com/x", body="x")
    finally:
        off = _cli(dev, "off", "all")
    assert '"killSwitches": []' in off.stdout
    assert client.message.publish(url="https://example.com/x", body="x", delay="1h")
