"""Credentials QStash's own dev server documents (public constants in its SDKs and docs), so
code written against `qstash dev` works against `duetime dev` unchanged. Never use them on AWS."""

from __future__ import annotations

from functions.domain.signing import SigningKeys

DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="  # noqa: S105
DEV_SIGNING_KEYS = SigningKeys(
    current="sig_7RvLjqfZBvP5KEUimQCE1pvpLuou",
    next="sig_7W3ZNbfKWk5NWwEs3U4ixuQ7fxwE",
)
DEV_PORT = 8080
