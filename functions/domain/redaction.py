"""`Upstash-Redact-Fields`: which parts of a message reads never show. Pure.

A redacted value reads back as `REDACTED:<sha256 hex>` (QStash's form: the hash lets a caller
check a value it holds without the API revealing it). Deliveries still carry the originals.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from functions.domain.errors import ValidationError

_HEADER = re.compile(r"header\[([!#$%&'*+.^_`|~0-9A-Za-z-]+)\]")


@dataclass(frozen=True)
class Redaction:
    body: bool = False
    all_headers: bool = False
    headers: frozenset[str] = frozenset()  # lowercase names

    def document(self) -> dict[str, Any]:
        return {"body": self.body, "allHeaders": self.all_headers, "headers": sorted(self.headers)}

    @classmethod
    def from_document(cls, doc: dict[str, Any] | None) -> Redaction:
        if not doc:
            return cls()
        return cls(
            body=bool(doc.get("body")),
            all_headers=bool(doc.get("allHeaders")),
            headers=frozenset(doc.get("headers", ())),
        )

    def header_value(self, name: str, value: str) -> str:
        return masked(value.encode()) if self.all_headers or name.lower() in self.headers else value


def parse_redact_fields(value: str) -> Redaction:
    """`body`, `header` (every header) and `header[Name]`, comma-separated, as the SDKs send."""
    body, all_headers, names = False, False, set()
    for raw in value.split(","):
        part = raw.strip()
        if part == "body":
            body = True
        elif part in {"header", "headers"}:
            all_headers = True
        elif match := _HEADER.fullmatch(part.replace("headers[", "header[")):
            names.add(match[1].lower())
        else:
            raise ValidationError(
                "Upstash-Redact-Fields takes body, header and header[Name], comma-separated; "
                f"got {part[:100]!r}"
            )
    return Redaction(body=body, all_headers=all_headers, headers=frozenset(names))


def masked(value: bytes) -> str:
    return "REDACTED:" + hashlib.sha256(value).hexdigest()
