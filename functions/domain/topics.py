"""URL groups (QStash's "topics"): a name and the endpoints a publish to it fans out to.

Pure rules: names, endpoint lists as the SDKs send them, and what an upsert or a removal
leaves. An endpoint is known by its URL; its optional name is unique within its group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from functions.domain.clock import from_unix_seconds, to_ms
from functions.domain.errors import NotFoundError, ValidationError
from functions.domain.limits import MAX_URL_BYTES, check_bytes
from functions.domain.publish import require_http_url

if TYPE_CHECKING:
    from datetime import datetime

# Not a URL (no ':' or '/'), so a publish path tells a group from a destination at a glance.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
MAX_ENDPOINTS = 100
ENDPOINT_FIELDS = frozenset({"url", "name"})


@dataclass(frozen=True)
class Endpoint:
    url: str
    name: str | None = None


@dataclass(frozen=True)
class Topic:
    name: str
    endpoints: tuple[Endpoint, ...]
    created_at: datetime
    updated_at: datetime


def is_topic_name(destination: str) -> bool:
    return bool(_NAME.fullmatch(destination))


def check_topic_name(name: str) -> str:
    if not is_topic_name(name):
        raise ValidationError(
            f"URL group name must be 1-128 letters, digits, '_', '-' or '.', got {name[:200]!r}"
        )
    return name


def parse_endpoints(body: dict[str, Any] | None, *, removing: bool) -> list[Endpoint]:
    """`{"endpoints": [{"url", "name"}]}`; adding needs a url, removing a url or a name."""
    if body is None or set(body) != {"endpoints"}:
        extra = sorted(set(body or {}) - {"endpoints"})
        raise ValidationError(
            f'unknown field(s) {", ".join(extra)}; the body is {{"endpoints": [...]}}'
            if extra
            else 'the body must be {"endpoints": [{"url": ..., "name": ...}]}'
        )
    raw = body["endpoints"]
    if not isinstance(raw, list) or not raw:
        raise ValidationError("endpoints must be a non-empty array")
    if len(raw) > MAX_ENDPOINTS:
        raise ValidationError(f"endpoints holds {len(raw)} entries; at most {MAX_ENDPOINTS}")
    return [_endpoint(i, e, removing=removing) for i, e in enumerate(raw)]


def _endpoint(index: int, raw: Any, *, removing: bool) -> Endpoint:
    where = f"endpoints[{index}]"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be an object with url and name")
    unknown = sorted(set(raw) - ENDPOINT_FIELDS)
    if unknown:
        raise ValidationError(f"{where}: unknown field(s) {', '.join(unknown)}; known: name, url")
    url, name = raw.get("url"), raw.get("name")
    if url is not None and not isinstance(url, str):
        raise ValidationError(f"{where}.url must be a string")
    if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
        raise ValidationError(f"{where}.name must be 1-128 letters, digits, '_', '-' or '.'")
    if url is None and (not removing or name is None):
        raise ValidationError(
            f"{where}: " + ("url or name is required" if removing else "url is required")
        )
    if url is not None:
        check_bytes(url, field=f"{where}.url", limit=MAX_URL_BYTES)
        require_http_url(url, f"{where}.url")
    return Endpoint(url or "", name)


def upserted(topic: Topic | None, name: str, added: list[Endpoint], *, now: datetime) -> Topic:
    """The group after adding or renaming endpoints (created when it did not exist)."""
    endpoints = {e.url: e for e in (topic.endpoints if topic else ())}
    for endpoint in added:
        endpoints[endpoint.url] = endpoint
    if len(endpoints) > MAX_ENDPOINTS:
        raise ValidationError(
            f"URL group {name} would hold {len(endpoints)} endpoints; at most {MAX_ENDPOINTS}"
        )
    names = [e.name for e in endpoints.values() if e.name]
    if len(names) != len(set(names)):
        raise ValidationError(f"endpoint names must be unique within URL group {name}")
    if topic is None:
        return Topic(name, tuple(endpoints.values()), created_at=now, updated_at=now)
    return replace(topic, endpoints=tuple(endpoints.values()), updated_at=now)


def removed(topic: Topic, gone: list[Endpoint], *, now: datetime) -> Topic | None:
    """The group without the endpoints named (by url, or by name); None when none is left,
    as QStash deletes a group whose last endpoint goes. An endpoint it lacks is a 404."""
    kept = list(topic.endpoints)
    for endpoint in gone:
        match = [
            e
            for e in kept
            if (endpoint.url and e.url == endpoint.url)
            or (not endpoint.url and endpoint.name and e.name == endpoint.name)
        ]
        if not match:
            raise NotFoundError(
                f"URL group {topic.name} has no endpoint {endpoint.url or endpoint.name}"
            )
        kept = [e for e in kept if e not in match]
    return replace(topic, endpoints=tuple(kept), updated_at=now) if kept else None


def topic_view(topic: Topic) -> dict[str, Any]:
    """A group as the SDKs parse it (`name`, `createdAt`, `updatedAt`, `endpoints`)."""
    return {
        "name": topic.name,
        "createdAt": to_ms(topic.created_at),
        "updatedAt": to_ms(topic.updated_at),
        "endpoints": [
            {"url": e.url, **({"name": e.name} if e.name else {})} for e in topic.endpoints
        ],
    }


def topic_document(topic: Topic) -> dict[str, Any]:
    """The stored form, on both backends."""
    return {
        "name": topic.name,
        "created": to_ms(topic.created_at),
        "updated": to_ms(topic.updated_at),
        "endpoints": [{"url": e.url, "name": e.name} for e in topic.endpoints],
    }


def topic_from_document(doc: dict[str, Any]) -> Topic:
    return Topic(
        name=str(doc["name"]),
        endpoints=tuple(Endpoint(str(e["url"]), e.get("name")) for e in doc["endpoints"]),
        created_at=from_unix_seconds(int(doc["created"]) / 1000),
        updated_at=from_unix_seconds(int(doc["updated"]) / 1000),
    )
