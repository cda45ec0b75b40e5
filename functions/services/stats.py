"""Operators' questions in one read (`GET /v2/stats`): how many are scheduled, how many are
overdue (should be about zero), how many failed, the average retry count, the errors grouped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from functions.domain.clock import Clock
from functions.domain.timers import MESSAGE
from functions.ports import Listing, MessageStore, OverdueScan
from functions.services.recovery import GRACE

SAMPLE = 1000


@dataclass
class Stats:
    store: MessageStore
    scan: OverdueScan
    clock: Clock

    def summary(self) -> dict[str, Any]:
        now = self.clock()
        pending_ids = self.store.pending_ids()
        overdue = [
            t for t in self.scan.overdue(before=now - GRACE, limit=SAMPLE) if t.kind == MESSAGE
        ]
        failed_ids = self.store.newest(Listing.DLQ, cursor=None, count=SAMPLE).ids
        failed = self.store.get_many(failed_ids)
        pending = self.store.get_many(pending_ids[:SAMPLE])
        sample = pending + failed
        errors = Counter((m.events[-1].error or "unknown") for m in failed if m.events)
        return {
            "scheduled": len(pending_ids),
            "overdue": len(overdue),
            "failed": len(failed_ids),
            "averageRetries": round(sum(m.retried for m in sample) / len(sample), 2)
            if sample
            else 0.0,
            "errors": [{"error": e, "count": n} for e, n in errors.most_common()],
            "sampled": len(sample),
        }
