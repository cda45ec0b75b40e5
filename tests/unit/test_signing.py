"""Signatures every delivery carries: QStash's JWT and Standard Webhooks.

Checked by their own reference verifiers (qstash.Receiver, standardwebhooks.Webhook) and by the
Standard Webhooks spec computed independently here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from qstash import Receiver
from qstash.errors import SignatureError
from qstash.receiver import verify_with_key
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from functions.domain.errors import ValidationError
from functions.domain.signing import (
    JWT_TTL_SECONDS,
    ROTATION_GRACE,
    Signer,
    SigningKeys,
    body_digest,
    keys_document,
    keys_from_document,
    new_signing_key,
    webhook_secret,
)

CURRENT = "sig_4Kq9cVbT2xLmN8pR3sWzY7uA1eD6fG0hJ5kQ"
NEXT = "sig_7Hn2mXcV9bL4kJ8gF3dS6aP1oI5uY0tR2eWq"
OTHER = "sig_0000000000000000000000000000000000000"
URL = "https://example.com/hook?x=1"
BODY = b'{"hello":"world"}'
MESSAGE_ID = "msg_abc123"
FIXED = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def signer() -> Signer:
    return Signer(SigningKeys(current=CURRENT, next=NEXT))


def qstash_verifies(receiver: Receiver, signature: str, body: bytes, url: str) -> bool:
    try:
        receiver.verify(signature=signature, body=body.decode(), url=url)
    except SignatureError:
        return False
    return True


def webhook_verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


def spec_signatures(message_id: str, timestamp: int, body: bytes) -> set[str]:
    """Standard Webhooks v1 computed from the spec: HMAC-SHA256 over `id.ts.` + body bytes,
    keyed with the base64-decoded `whsec_` secret of each signing key."""
    expected = set()
    for key in (CURRENT, NEXT):
        secret = base64.b64decode(webhook_secret(key).removeprefix("whsec_"))
        signed = f"{message_id}.{timestamp}.".encode() + body
        digest = hmac.new(secret, signed, hashlib.sha256).digest()
        expected.add("v1," + base64.b64encode(digest).decode())
    return expected


# --- Upstash-Signature (JWT) -----------------------------------------------------------------


def test_qstash_receiver_accepts_the_signature(signer: Signer) -> None:
    # Given a delivery signed now (the receiver checks exp/nbf against the real clock)
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    # Then the QStash SDK's receiver verifies it
    assert qstash_verifies(Receiver(CURRENT, NEXT), headers["Upstash-Signature"], BODY, URL)


def test_qstash_receiver_whose_next_key_is_our_current_key_accepts(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    assert qstash_verifies(Receiver(OTHER, CURRENT), headers["Upstash-Signature"], BODY, URL)


def test_qstash_receiver_with_other_keys_rejects(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    assert not qstash_verifies(Receiver(OTHER, OTHER), headers["Upstash-Signature"], BODY, URL)


def test_qstash_receiver_rejects_a_tampered_body(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    signature = headers["Upstash-Signature"]
    assert not qstash_verifies(Receiver(CURRENT, NEXT), signature, b'{"hello":"mallory"}', URL)
    # The SDK's per-key check says why: the body claim does not match.
    with pytest.raises(SignatureError, match="Invalid body hash"):
        verify_with_key(CURRENT, signature=signature, body='{"hello":"mallory"}', url=URL)


def test_qstash_receiver_rejects_a_wrong_url(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    signature = headers["Upstash-Signature"]
    evil = "https://evil.example.com/hook?x=1"
    assert not qstash_verifies(Receiver(CURRENT, NEXT), signature, BODY, evil)
    with pytest.raises(SignatureError, match="Invalid subject"):
        verify_with_key(CURRENT, signature=signature, body=BODY.decode(), url=evil)


def test_jwt_claims_follow_qstash(signer: Signer) -> None:
    # When a delivery is signed at a fixed instant
    token = signer.upstash_signature(url=URL, body=BODY, now=FIXED)
    # Then its header and claims are QStash's
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token,
        CURRENT,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    issued = int(FIXED.timestamp())
    assert claims["iss"] == "Upstash"
    assert claims["sub"] == URL
    assert claims["iat"] == issued
    assert claims["nbf"] == issued
    assert claims["exp"] == issued + JWT_TTL_SECONDS == issued + 300
    assert isinstance(claims["jti"], str)
    assert claims["jti"]
    sha = base64.urlsafe_b64encode(hashlib.sha256(BODY).digest()).decode()
    assert claims["body"].rstrip("=") == sha.rstrip("=")


def test_jwt_is_signed_with_the_current_key_only(signer: Signer) -> None:
    token = signer.upstash_signature(url=URL, body=BODY, now=FIXED)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, NEXT, algorithms=["HS256"], options={"verify_exp": False})


def test_each_signature_has_its_own_jti(signer: Signer) -> None:
    options = {"verify_signature": False}
    first = jwt.decode(signer.upstash_signature(url=URL, body=BODY, now=FIXED), options=options)
    second = jwt.decode(signer.upstash_signature(url=URL, body=BODY, now=FIXED), options=options)
    assert first["jti"] != second["jti"]


def test_body_digest_of_the_empty_body_is_the_known_sha256() -> None:
    assert body_digest(b"").rstrip("=") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


# --- Standard Webhooks -----------------------------------------------------------------------


def test_webhook_headers_carry_id_and_timestamp(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=FIXED)
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["webhook-timestamp"] == str(int(FIXED.timestamp())) == "1717243200"


@pytest.mark.parametrize("key", [CURRENT, NEXT])
def test_standard_webhooks_verifies_with_either_key(signer: Signer, key: str) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    # The reference library returns the parsed JSON body once the signature checks out.
    assert Webhook(webhook_secret(key)).verify(BODY, headers) == {"hello": "world"}


def test_standard_webhooks_rejects_a_tampered_body(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(webhook_secret(CURRENT)).verify(b'{"hello":"mallory"}', headers)


def test_standard_webhooks_rejects_an_unrelated_key(signer: Signer) -> None:
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=datetime.now(UTC))
    assert not webhook_verifies(webhook_secret(OTHER), BODY, headers)
    assert webhook_verifies(webhook_secret(CURRENT), BODY, headers)


def test_binary_body_is_signed_per_the_standard_webhooks_spec(signer: Signer) -> None:
    # Given a body that is not UTF-8 (standardwebhooks itself only signs text)
    body = b"\xff\xfe\x00binary\x80"
    # When signed
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=body, now=FIXED)
    # Then the header holds exactly the spec's v1 signatures for both keys
    timestamp = int(FIXED.timestamp())
    assert set(headers["webhook-signature"].split(" ")) == spec_signatures(
        MESSAGE_ID, timestamp, body
    )


@given(
    body=st.binary(max_size=256), message_id=st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True)
)
def test_any_body_is_signed_per_the_spec(body: bytes, message_id: str) -> None:
    # Text and binary bodies alike: the signatures equal the independent spec computation.
    signer = Signer(SigningKeys(current=CURRENT, next=NEXT))
    header = signer.webhook_signature(message_id=message_id, body=body, now=FIXED)
    assert set(header.split(" ")) == spec_signatures(message_id, int(FIXED.timestamp()), body)


def test_webhook_secret_is_whsec_and_the_base64_of_the_key() -> None:
    secret = webhook_secret("sig_abc")
    assert secret == "whsec_" + base64.b64encode(b"sig_abc").decode()
    assert base64.b64decode(secret.removeprefix("whsec_")) == b"sig_abc"


def test_standard_webhooks_verifies_when_now_carries_an_offset(signer: Signer) -> None:
    now = datetime.now(UTC).astimezone(timezone(timedelta(hours=2)))
    headers = signer.headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=now)
    assert webhook_verifies(webhook_secret(CURRENT), BODY, headers)


# --- SigningKeys -----------------------------------------------------------------------------


def test_signing_keys_from_raw_strip_whitespace_and_newlines() -> None:
    keys = SigningKeys.from_raw("  sig_current\n", "\tsig_next \r\n")
    assert keys == SigningKeys(current="sig_current", next="sig_next")


# --- rotation --------------------------------------------------------------------------------


def test_rotation_keeps_every_receiver_verifying_through_the_grace() -> None:
    # Given a receiver set up before the rotation: QStash keys (current, next) and a
    # Standard Webhooks secret of the old current key
    before = SigningKeys(current=CURRENT, next=NEXT)
    qstash_receiver = Receiver(current_signing_key=CURRENT, next_signing_key=NEXT)
    old_secret = webhook_secret(CURRENT)
    # When the keys rotated an hour ago and a delivery is signed now (both verifiers check
    # their timestamps against the real clock)
    now = datetime.now(UTC)
    rotated = before.rotated(OTHER, now=now - timedelta(hours=1))
    headers = Signer(rotated).headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=now)
    # Then the old receiver still verifies both schemes (the JWT by its next key, the webhook
    # by the old current key, still signing), and so does one on the new keys
    assert qstash_verifies(qstash_receiver, headers["Upstash-Signature"], BODY, URL)
    assert webhook_verifies(old_secret, BODY, headers)
    assert webhook_verifies(webhook_secret(rotated.current), BODY, headers)
    assert webhook_verifies(webhook_secret(rotated.next), BODY, headers)


def test_the_rotated_out_key_stops_signing_when_the_grace_ends() -> None:
    after = datetime.now(UTC)
    rotated = SigningKeys(current=CURRENT, next=NEXT).rotated(OTHER, now=after - ROTATION_GRACE)
    headers = Signer(rotated).headers(message_id=MESSAGE_ID, url=URL, body=BODY, now=after)
    # The old current no longer verifies; the current one does
    assert not webhook_verifies(webhook_secret(CURRENT), BODY, headers)
    assert webhook_verifies(webhook_secret(NEXT), BODY, headers)
    assert rotated.without_expired(after) == SigningKeys(current=NEXT, next=OTHER)
    assert rotated.without_expired(after - timedelta(seconds=1)) == rotated


def test_keys_document_round_trips_with_and_without_a_previous_key() -> None:
    plain = SigningKeys(current=CURRENT, next=NEXT)
    rotated = plain.rotated(OTHER, now=FIXED)
    assert keys_from_document(keys_document(plain)) == plain
    assert keys_from_document(keys_document(rotated)) == rotated
    assert (
        keys_document(rotated)["previousUntil"] == int((FIXED + ROTATION_GRACE).timestamp()) * 1000
    )


def test_rotation_refuses_a_naive_time() -> None:
    with pytest.raises(ValidationError, match="now must carry a time zone"):
        SigningKeys(current=CURRENT, next=NEXT).rotated(OTHER, now=datetime(2024, 6, 1))  # noqa: DTZ001


def test_new_signing_keys_are_sig_and_28_base58_characters_and_differ() -> None:
    keys = {new_signing_key() for _ in range(50)}
    assert len(keys) == 50
    base58 = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
    for key in keys:
        assert key.startswith("sig_")
        assert len(key) == 32
        assert set(key[4:]) <= base58
