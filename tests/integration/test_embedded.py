"""The embedded backend behind the real API handler: faults a laptop can have."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from functions import wiring
from functions.adapters.sqlite import LocalTimers, open_database, sqlite_adapters
from functions.adapters.sqlite.db import Database
from functions.config import Settings
from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from tests.helpers.api import call


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(str(tmp_path / "full.db"))
    timers = LocalTimers(workers=1)  # never started: nothing here needs to fire
    adapters = sqlite_adapters(db, timers=timers, keys=DEV_SIGNING_KEYS, tokens=(DEV_TOKEN,))
    wiring.install(wiring.build(Settings(dev_mode=True), adapters))
    yield db
    wiring.install(None)
    db.close()


def test_a_full_disk_answers_503_and_writes_nothing_half(database: Database) -> None:
    # Given a database that may grow by only a few pages (what a full disk looks like to SQLite)
    with database.write() as tx:
        used = tx.execute("PRAGMA page_count").fetchone()[0]
        tx.execute(f"PRAGMA max_page_count = {used + 8}")
    body = "x" * 20_000
    answers = []
    # When publishes with a deduplication id each keep coming until it is full
    for n in range(50):
        response = call(
            "POST",
            "/v2/publish/https://example.com/hook",
            token=DEV_TOKEN,
            headers={"Upstash-Deduplication-Id": f"d{n}"},
            body=body,
        )
        answers.append(response)
        if response.status != 201:
            break
    # Then the publish that did not fit is a JSON 503 that says why
    refused = answers[-1]
    assert refused.status == 503
    assert "cannot take writes now" in refused.json["error"]
    # And exactly the accepted messages are stored, with their dedup ids and nothing else
    accepted = [a.json["messageId"] for a in answers if a.status == 201]
    assert accepted
    with database.read() as db:
        stored = [r[0] for r in db.execute("SELECT id FROM messages")]
        dedup = db.execute("SELECT count(*) FROM dedup").fetchone()[0]
    assert sorted(stored) == sorted(accepted)
    assert dedup == len(accepted)
