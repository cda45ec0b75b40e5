"""The one signer: every delivery carries a QStash JWT and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from functions.domain.clock import Clock, from_unix_seconds, require_utc, to_ms

if TYPE_CHECKING:
    from standardwebhooks import Webhook

JWT_TTL_SECONDS = 300
# After a rotation the old current key still signs the Standard Webhooks header this long, so a
# receiver configured with one `whsec_` secret has a day to switch (Svix's window too). The
# QStash JWT needs no such window: its receivers hold current and next, and next now signs.
ROTATION_GRACE = timedelta(hours=24)
_KEY_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # base58, as QStash's


@dataclass(frozen=True)
class SigningKeys:
    """QStash-style signing keys; `next` becomes `current` on rotation, and the key it replaced
    stays `previous` (Standard Webhooks only) until `previous_until`."""

    current: str
    next: str
    previous: str | None = None
    previous_until: datetime | None = None

    @classmethod
    def from_raw(cls, current: str, next_key: str) -> SigningKeys:
        # Secrets pasted by hand often carry a newline or spaces; they are never part of a key.
        return cls(current=current.strip(), next=next_key.strip())

    def rotated(self, new_next: str, *, now: datetime) -> SigningKeys:
        """Next becomes current, `new_next` becomes next, current signs on for the grace."""
        return SigningKeys(
            current=self.next,
            next=new_next,
            previous=self.current,
            previous_until=require_utc(now, field="now") + ROTATION_GRACE,
        )

    def webhook_keys(self, now: datetime) -> tuple[str, ...]:
        """The keys that sign the Standard Webhooks header at `now`."""
        keys = (self.current, self.next)
        if self.previous and self.previous_until and now < self.previous_until:
            return (*keys, self.previous)
        return keys

    def without_expired(self, now: datetime) -> SigningKeys:
        if self.previous_until is not None and now >= self.previous_until:
            return replace(self, previous=None, previous_until=None)
        return self


def preload() -> None:
    """Import the signing libraries now. A Lambda function imports them at its first
    signature (its cold start is the scarce time); a long-lived server does it at start, so
    the first deliveries of a burst wait on no import."""
    import jwt  # noqa: F401, PLC0415
    import standardwebhooks  # noqa: F401, PLC0415


def keys_document(keys: SigningKeys) -> dict[str, str | int]:
    """The stored form (a secret's JSON on AWS, a row on the embedded engine)."""
    doc: dict[str, str | int] = {"current": keys.current, "next": keys.next}
    if keys.previous and keys.previous_until:
        doc["previous"] = keys.previous
        doc["previousUntil"] = to_ms(keys.previous_until)
    return doc


def keys_from_document(doc: dict[str, object]) -> SigningKeys:
    """Raises KeyError, TypeError or ValueError for a document that is not keys_document's."""
    keys = SigningKeys.from_raw(str(doc["current"]), str(doc["next"]))
    previous, until = doc.get("previous"), doc.get("previousUntil")
    if isinstance(previous, str) and isinstance(until, int):
        return replace(keys, previous=previous, previous_until=from_unix_seconds(until / 1000))
    return keys


def new_signing_key() -> str:
    """A fresh `sig_` key: 28 base58 characters (~164 bits), the shape QStash issues."""
    return "sig_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(28))


def webhook_secret(key: str) -> str:
    """The Standard Webhooks (`whsec_`) form of a signing key: its bytes, base64-encoded."""
    return "whsec_" + base64.b64encode(key.encode()).decode()


def body_digest(body: bytes) -> str:
    """base64url SHA-256 of the raw body, the `body` claim of an Upstash-Signature."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


class Signer:
    """Signs deliveries with the current key (JWT) and both keys, plus a just-rotated-out one
    during its grace (Standard Webhooks)."""

    def __init__(self, keys: SigningKeys, *, signed_at: Clock | None = None) -> None:
        self._keys = keys
        # Receivers check signature times against their own clock: under a virtual clock
        # (time travel) the engine signs with the wall clock instead of the time it ran at.
        self._signed_at = signed_at
        self._webhook_cache: dict[str, Webhook] = {}

    def upstash_signature(self, *, url: str, body: bytes, now: datetime) -> str:
        issued = int(require_utc(now, field="now").timestamp())
        claims = {
            "iss": "Upstash",
            "sub": url,
            "iat": issued,
            "nbf": issued,
            "exp": issued + JWT_TTL_SECONDS,
            "jti": "jwt_" + secrets.token_hex(12),
            "body": body_digest(body),
        }
        # Imported at the first signature, not at cold start: the schedule function never
        # signs, and the dispatch function signs only once it has something to deliver.
        import jwt  # noqa: PLC0415

        return jwt.encode(claims, self._keys.current, algorithm="HS256")

    def webhook_signature(self, *, message_id: str, body: bytes, now: datetime) -> str:
        """`v1,<sig>` for each key, space-separated, so receivers on either key verify."""
        # standardwebhooks replaces the zone rather than converting: hand it UTC.
        now = require_utc(now, field="now")
        keys = self._keys.webhook_keys(now)
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return " ".join(self._binary_signature(k, message_id, body, now) for k in keys)
        return " ".join(self._webhook(k).sign(message_id, now, text) for k in keys)

    def headers(self, *, message_id: str, url: str, body: bytes, now: datetime) -> dict[str, str]:
        """Signature headers of one delivery attempt."""
        now = require_utc(self._signed_at() if self._signed_at else now, field="now")
        return {
            "Upstash-Signature": self.upstash_signature(url=url, body=body, now=now),
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.webhook_signature(message_id=message_id, body=body, now=now),
        }

    def _webhook(self, key: str) -> Webhook:
        if key not in self._webhook_cache:
            from standardwebhooks import Webhook  # noqa: PLC0415 - at the first signature, as jwt

            self._webhook_cache[key] = Webhook(webhook_secret(key))
        return self._webhook_cache[key]

    @staticmethod
    def _binary_signature(key: str, message_id: str, body: bytes, now: datetime) -> str:
        # standardwebhooks only signs text; the spec signs bytes, so non-UTF-8 bodies are done here.
        signed = f"{message_id}.{int(now.timestamp())}.".encode() + body
        digest = hmac.new(key.encode(), signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()
