"""Make moto's DynamoDB conditional writes atomic, as DynamoDB's are, and its reads safe
beside them.

moto checks a condition and then writes without a lock, so two threads can both pass the same
`attribute_not_exists`. duetime's leases and idempotency keys depend on that never happening;
the dev server and the tests run handlers on many threads, so the writes are serialised here.
moto's query and scan also iterate the table's dict while another thread may insert into it
("dictionary changed size during iteration"), so reads take the same lock. And moto's request
handler deep-copies a live item outside the backend (update_item's ReturnValues copy) while
another thread may update it, so each DynamoDB request is handled under the lock as a whole.
Secrets Manager's PutSecretValue checks that a ClientRequestToken is unused and then adds the
version, also without a lock; the key rotation's compare-and-set relies on that check.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.secretsmanager.models import SecretsManagerBackend

if TYPE_CHECKING:
    from collections.abc import Callable

_WRITE_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_READS = ("get_item", "query", "scan")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            return method(*args, **kwargs)

    locked.__duetime_atomic__ = True  # type: ignore[attr-defined]
    return locked


def install() -> None:
    """Idempotent: wrap each write and read method of moto's DynamoDB backend (and the
    secret version write) once."""
    targets = [(DynamoDBBackend, name) for name in _WRITES + _READS]
    extra = [(DynamoHandler, "call_action"), (SecretsManagerBackend, "put_secret_value")]
    for owner, name in [*targets, *extra]:
        method = getattr(owner, name)
        if not getattr(method, "__duetime_atomic__", False):
            setattr(owner, name, _serialised(method))
