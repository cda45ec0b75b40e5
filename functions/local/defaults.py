"""Credentials QStash's own dev server uses (public constants in its SDKs and docs), so code
written against `qstash dev` works against `duetime dev` unchanged. The signing keys are the
JS SDK's `DEV_CREDENTIALS` (@upstash/qstash >= 2.9, src/dev-server): with `QSTASH_DEV=1` the
SDK recognises a dev server on :8080 by `GET /v2/keys` answering exactly these, and its
Receiver verifies with them. Never use them on AWS."""

from __future__ import annotations

from functions.domain.signing import SigningKeys

DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="  # noqa: S105
DEV_SIGNING_KEYS = SigningKeys(
    current="sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
    next="sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
)
DEV_PORT = 8080
