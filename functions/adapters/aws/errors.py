"""The one place where storage errors become domain errors."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from pynamodb.exceptions import PynamoDBException

from functions.domain.errors import ThrottlingError
from functions.ports import ConditionFailedError

if TYPE_CHECKING:
    from collections.abc import Iterator

_THROTTLED = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Translate pynamodb failures raised inside the block into named domain errors."""
    try:
        yield
    except PynamoDBException as exc:
        code = getattr(exc, "cause_response_code", None)
        if code == "ConditionalCheckFailedException":
            raise ConditionFailedError(f"{what}: condition not met") from exc
        if code in _THROTTLED:
            raise ThrottlingError(f"{what}: throttled by DynamoDB ({code})") from exc
        raise
