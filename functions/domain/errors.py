"""Domain errors. The API maps each to one HTTP status in one place (handlers/schedule.py)."""

from __future__ import annotations

from typing import Any


class DuetimeError(Exception):
    """Anything duetime reports to a caller as a 4xx/5xx with `{"error": ...}`."""

    status_code = 500


class ValidationError(DuetimeError):
    """The request is malformed; the message names what and where."""

    status_code = 400


class UnauthorizedError(DuetimeError):
    status_code = 401


class NotFoundError(DuetimeError):
    status_code = 404


class MethodNotAllowedError(DuetimeError):
    status_code = 405


class ConflictError(DuetimeError):
    """A conditional write lost: the record was not in the state the change expected."""

    status_code = 409

    def __init__(self, message: str, *, current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current


class PayloadTooLargeError(DuetimeError):
    status_code = 413


class ThrottlingError(DuetimeError):
    """DynamoDB or another AWS API throttled us; the caller may retry."""

    status_code = 503


class DestinationRefusedError(DuetimeError):
    """The destination resolves to an address duetime must not call (SSRF guard)."""

    status_code = 400
