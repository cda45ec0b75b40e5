"""The one signer: every delivery carries a QStash JWT and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import jwt
from standardwebhooks import Webhook

from functions.domain.clock import require_utc

JWT_TTL_SECONDS = 300


@dataclass(frozen=True)
class SigningKeys:
    """QStash-style signing keys; `next` becomes `current` on rotation."""

    current: str
    next: str

    @classmethod
    def from_raw(cls, current: str, next_key: str) -> SigningKeys:
        # Secrets pasted by hand often carry a newline or spaces; they are never part of a key.
        return cls(current=current.strip(), next=next_key.strip())


def webhook_secret(key: str) -> str:
    """The Standard Webhooks (`whsec_`) form of a signing key: its bytes, base64-encoded."""
    return "whsec_" + base64.b64encode(key.encode()).decode()


def body_digest(body: bytes) -> str:
    """base64url SHA-256 of the raw body, the `body` claim of an Upstash-Signature."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


class Signer:
    """Signs deliveries with the current key (JWT) and both keys (Standard Webhooks)."""

    def __init__(self, keys: SigningKeys) -> None:
        self._keys = keys
        self._webhooks = [Webhook(webhook_secret(k)) for k in (keys.current, keys.next)]

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
        return jwt.encode(claims, self._keys.current, algorithm="HS256")

    def webhook_signature(self, *, message_id: str, body: bytes, now: datetime) -> str:
        """`v1,<sig>` for each key, space-separated, so receivers on either key verify."""
        # standardwebhooks replaces the zone rather than converting: hand it UTC.
        now = require_utc(now, field="now")
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return " ".join(
                self._binary_signature(k, message_id, body, now) for k in self._keys_list
            )
        return " ".join(w.sign(message_id, now, text) for w in self._webhooks)

    def headers(self, *, message_id: str, url: str, body: bytes, now: datetime) -> dict[str, str]:
        """Signature headers of one delivery attempt."""
        now = require_utc(now, field="now")
        return {
            "Upstash-Signature": self.upstash_signature(url=url, body=body, now=now),
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.webhook_signature(message_id=message_id, body=body, now=now),
        }

    @property
    def _keys_list(self) -> tuple[str, str]:
        return (self._keys.current, self._keys.next)

    @staticmethod
    def _binary_signature(key: str, message_id: str, body: bytes, now: datetime) -> str:
        # standardwebhooks only signs text; the spec signs bytes, so non-UTF-8 bodies are done here.
        signed = f"{message_id}.{int(now.timestamp())}.".encode() + body
        digest = hmac.new(key.encode(), signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()
