"""Key rotation end to end: the Python SDK's `signing_key.rotate()` against `duetime dev`, on
both engines, with deliveries before, just after and a while after the rotation verified by
the QStash SDK's Receiver and by standardwebhooks, as receivers configured at each stage."""

from __future__ import annotations

import httpx
import pytest
import standardwebhooks
from qstash import QStash
from qstash import Receiver as QStashReceiver
from qstash.errors import QStashError
from standardwebhooks.webhooks import WebhookVerificationError

from functions.domain.signing import webhook_secret
from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Received, Receiver

pytestmark = pytest.mark.e2e


def _deliver(client: QStash, receiver: Receiver, tag: str) -> Received:
    client.message.publish_json(url=receiver.url(f"/hook/{tag}"), body={"tag": tag})
    for request in receiver.wait_for(len(receiver.requests) + 1, timeout=15):
        if request.path == f"/hook/{tag}":
            return request
    raise AssertionError(f"delivery {tag} never arrived")


def _qstash_ok(keys: tuple[str, str], request: Received, url: str) -> bool:
    try:
        QStashReceiver(*keys).verify(
            signature=request.headers["Upstash-Signature"], body=request.body.decode(), url=url
        )
    except QStashError:
        return False
    return True


def _webhook_ok(key: str, request: Received) -> bool:
    try:
        standardwebhooks.Webhook(webhook_secret(key)).verify(request.body, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


def test_rotation_keeps_deliveries_verifiable_by_old_and_new_receivers(
    fresh_dev: DevProcess,
) -> None:
    client = QStash(fresh_dev.token, base_url=fresh_dev.url, retry=False)
    old = client.signing_key.get()
    assert (old.current, old.next) == (fresh_dev.current_key, fresh_dev.next_key)
    with Receiver() as receiver:
        before = _deliver(client, receiver, "before")
        # When the SDK rotates the keys
        new = client.signing_key.rotate()
        # Then next became current, a fresh next was made, and GET /v2/keys agrees
        assert new.current == old.next
        assert new.next not in {old.current, old.next}
        assert new.next.startswith("sig_")
        read_back = client.signing_key.get()
        assert (read_back.current, read_back.next) == (new.current, new.next)
        after = _deliver(client, receiver, "after")
        urls = {tag: receiver.url(f"/hook/{tag}") for tag in ("before", "after")}

    # Before the rotation: the old keys verify both schemes
    assert _qstash_ok((old.current, old.next), before, urls["before"])
    assert _webhook_ok(old.current, before)
    # After: a receiver still on the old keys verifies the JWT (by its next key) and the
    # webhook signature (the old current signs on for a day) ...
    assert _qstash_ok((old.current, old.next), after, urls["after"])
    assert _webhook_ok(old.current, after)
    # ... one that moved to the new keys verifies both, and keys from nowhere verify neither
    assert _qstash_ok((new.current, new.next), after, urls["after"])
    assert _webhook_ok(new.current, after)
    assert not _qstash_ok((new.next, new.next), after, urls["after"])
    assert not _webhook_ok("sig_notakey", after)


def test_rotate_with_a_body_field_is_a_400_naming_it(dev: DevProcess) -> None:
    fresh_dev = dev
    client = QStash(fresh_dev.token, base_url=fresh_dev.url, retry=False)
    answer = httpx.post(
        f"{fresh_dev.url}/v2/keys/rotate",
        json={"force": True},
        headers={"Authorization": f"Bearer {fresh_dev.token}"},
    )
    assert answer.status_code == 400
    assert "force" in answer.json()["error"]
    # And nothing rotated
    keys = client.signing_key.get()
    assert (keys.current, keys.next) == (fresh_dev.current_key, fresh_dev.next_key)
