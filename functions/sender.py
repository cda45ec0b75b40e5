"""One HTTP attempt with httpx, reduced to what the log keeps."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

# Responses are kept for the event log and DLQ; DynamoDB items are capped at 400 KB.
RESPONSE_BODY_LIMIT = 4096
USER_AGENT = "duetime/0.1 (+QStash-compatible)"


@dataclass(frozen=True)
class AttemptResult:
    status: int | None
    headers: dict[str, str]
    body: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def send(
    client: httpx.Client,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    timeout_seconds: float,
) -> AttemptResult:
    """Send once; a timeout or connection error is a result, not an exception."""
    try:
        response = client.request(
            method,
            url,
            headers={"User-Agent": USER_AGENT, **headers},
            content=body if method not in {"GET", "HEAD"} or body else None,
            timeout=timeout_seconds,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        return AttemptResult(None, {}, "", f"timed out after {timeout_seconds:g}s")
    except httpx.HTTPError as exc:
        return AttemptResult(None, {}, "", f"{type(exc).__name__}: {exc}")
    text = response.content[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")
    error = None if response.is_success else f"HTTP {response.status_code}"
    return AttemptResult(response.status_code, dict(response.headers), text, error)
