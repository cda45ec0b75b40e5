"""Upstash-Redact-Fields: parsed as the SDKs send it, applied to every read view."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from functions.domain.errors import ValidationError
from functions.domain.messages import Message
from functions.domain.redaction import Redaction, parse_redact_fields
from functions.domain.views import dlq_view, message_view

NOW = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)


def _sha(value: bytes) -> str:
    return "REDACTED:" + hashlib.sha256(value).hexdigest()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("body", Redaction(body=True)),
        ("header", Redaction(all_headers=True)),
        (
            "body,header[Authorization],header[X-Key]",
            Redaction(body=True, headers=frozenset({"authorization", "x-key"})),
        ),
        (" body , headers[Cookie] ", Redaction(body=True, headers=frozenset({"cookie"}))),
    ],
)
def test_the_sdks_forms_parse(header: str, expected: Redaction) -> None:
    assert parse_redact_fields(header) == expected


@pytest.mark.parametrize("header", ["", "bodies", "header[]", "header[a b]", "body,url"])
def test_anything_else_is_a_400_naming_the_header(header: str) -> None:
    with pytest.raises(ValidationError, match="Upstash-Redact-Fields takes body, header"):
        parse_redact_fields(header)


def test_reads_show_the_hash_of_redacted_parts_and_the_rest_as_is() -> None:
    message = Message(
        message_id="msg_1",
        url="https://example.com/",
        method="POST",
        headers={"Authorization": "Bearer s3cret", "X-Plain": "visible"},
        body=b'{"card": "4111"}',
        due_at=NOW,
        created_at=NOW,
        options={"redact": Redaction(body=True, headers=frozenset({"authorization"})).document()},
    )
    for view in (message_view(message), dlq_view(message)):
        assert view["body"] == _sha(b'{"card": "4111"}')
        assert view["header"] == {
            "Authorization": [_sha(b"Bearer s3cret")],
            "X-Plain": ["visible"],
        }
        assert "s3cret" not in str(view)
        assert "4111" not in str(view)
