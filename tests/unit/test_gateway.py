"""The dev server's API Gateway HTTP API (v2) event: raw path and query kept byte for byte."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from functions.local.gateway import http_api_event


def event(raw_target: str, body: bytes = b"", method: str = "POST") -> dict[str, Any]:
    return http_api_event(
        method=method,
        raw_target=raw_target,
        headers={"host": "127.0.0.1:8080", "content-type": "text/plain"},
        body=body,
        source_ip="127.0.0.1",
    )


def test_raw_path_keeps_double_slashes_and_the_raw_query() -> None:
    e = event("/v2/publish/https://example.com//a//b?x=1&y=a%20b")
    assert e["rawPath"] == "/v2/publish/https://example.com//a//b"
    assert e["requestContext"]["http"]["path"] == "/v2/publish/https://example.com//a//b"
    assert e["rawQueryString"] == "x=1&y=a%20b"
    assert e["queryStringParameters"] == {"x": "1", "y": "a b"}


def test_repeated_query_keys_are_joined_by_commas() -> None:
    e = event("/v2/publish/https://example.com?a=1&a=2&b=3&a=")
    assert e["queryStringParameters"] == {"a": "1,2,", "b": "3"}
    assert e["rawQueryString"] == "a=1&a=2&b=3&a="


def test_no_query_means_no_query_parameters() -> None:
    e = event("/v2/messages/msg_1", method="GET")
    assert e["rawQueryString"] == ""
    assert "queryStringParameters" not in e
    assert e["requestContext"]["http"]["method"] == "GET"


def test_utf8_body_is_passed_as_text() -> None:
    e = event("/v2/publish/https://example.com", body="héllo".encode())
    assert e["body"] == "héllo"
    assert e["isBase64Encoded"] is False


def test_non_utf8_body_is_base64_encoded() -> None:
    body = b"\xff\xfe\x00\x80binary"
    e = event("/v2/publish/https://example.com", body=body)
    assert e["isBase64Encoded"] is True
    assert base64.b64decode(e["body"]) == body


def test_empty_body_is_absent() -> None:
    e = event("/v2/publish/https://example.com")
    assert "body" not in e
    assert e["isBase64Encoded"] is False


def test_request_context_describes_the_request() -> None:
    e = event("/v2/publish/https://example.com", method="PUT")
    context = e["requestContext"]
    assert e["version"] == "2.0"
    assert e["headers"]["content-type"] == "text/plain"
    assert context["http"]["method"] == "PUT"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["domainName"] == "127.0.0.1:8080"


@given(body=st.binary(max_size=512))
def test_any_body_survives_the_event_encoding(body: bytes) -> None:
    # Whatever the bytes, the handler can recover them exactly as API Gateway would send them.
    e = event("/v2/publish/https://example.com", body=body)
    raw = e.get("body") or ""
    recovered = base64.b64decode(raw) if e["isBase64Encoded"] else raw.encode()
    assert recovered == body
