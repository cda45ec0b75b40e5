"""URL groups on the embedded engine: one row per group, its document as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.domain.clock import to_ms
from functions.domain.topics import Topic, topic_document, topic_from_document
from functions.ports import ConditionFailedError

if TYPE_CHECKING:
    import sqlite3

    from functions.adapters.sqlite.db import Database


@dataclass
class SqliteTopicStore:
    db: Database

    def get(self, name: str) -> Topic | None:
        with self.db.read() as db:
            row = db.execute("SELECT doc FROM topics WHERE name = ?", (name,)).fetchone()
        return topic_from_document(json.loads(row[0])) if row else None

    def all(self) -> list[Topic]:
        with self.db.read() as db:
            rows = db.execute("SELECT doc FROM topics ORDER BY name").fetchall()
        return [topic_from_document(json.loads(doc)) for (doc,) in rows]

    def save(self, topic: Topic, *, previous: Topic | None) -> None:
        with self.db.write() as tx:
            self._expect(tx, topic.name, previous)
            tx.execute(
                "INSERT OR REPLACE INTO topics (name, updated, doc) VALUES (?, ?, ?)",
                (topic.name, to_ms(topic.updated_at), json.dumps(topic_document(topic))),
            )

    def delete(self, name: str, *, previous: Topic) -> None:
        with self.db.write() as tx:
            self._expect(tx, name, previous)
            tx.execute("DELETE FROM topics WHERE name = ?", (name,))

    @staticmethod
    def _expect(tx: sqlite3.Connection, name: str, previous: Topic | None) -> None:
        """The condition DynamoDB states: the stored version is the one read before."""
        row = tx.execute("SELECT updated FROM topics WHERE name = ?", (name,)).fetchone()
        stored = row[0] if row else None
        wanted = to_ms(previous.updated_at) if previous else None
        if stored != wanted:
            raise ConditionFailedError(f"URL group {name} changed meanwhile")
