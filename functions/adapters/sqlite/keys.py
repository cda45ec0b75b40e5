"""Signing keys and API tokens on the embedded engine.

The keys given at start (the dev server's defaults or flags) hold until the first rotation;
from then on the rotated keys live in the database, so a `--db` file keeps them across restarts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from functions.domain.auth import hash_token
from functions.domain.signing import SigningKeys, keys_document, keys_from_document

if TYPE_CHECKING:
    from datetime import datetime

    from functions.adapters.sqlite.db import Database


@dataclass
class SqliteKeys:
    db: Database
    initial: SigningKeys
    tokens: tuple[str, ...] = field(default=())

    def signing_keys(self) -> SigningKeys:
        with self.db.read() as db:
            row = db.execute("SELECT doc FROM signing_keys WHERE id = 1").fetchone()
        return keys_from_document(json.loads(row[0])) if row else self.initial

    def rotate(self, new_next: str, *, now: datetime) -> SigningKeys:
        """Read and write in one transaction: two rotations queue, neither is lost."""
        with self.db.write() as tx:
            row = tx.execute("SELECT doc FROM signing_keys WHERE id = 1").fetchone()
            stored = keys_from_document(json.loads(row[0])) if row else self.initial
            rotated = stored.without_expired(now).rotated(new_next, now=now)
            tx.execute(
                "INSERT OR REPLACE INTO signing_keys (id, doc) VALUES (1, ?)",
                (json.dumps(keys_document(rotated)),),
            )
        return rotated

    def token_hashes(self) -> tuple[str, ...]:
        return tuple(hash_token(t) for t in self.tokens)
