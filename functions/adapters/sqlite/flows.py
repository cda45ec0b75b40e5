"""Flows on the embedded engine: a flow row (the state token), a row per step (the ledger) and
one per idempotency key. Each method is one transaction, with the conditions of the AWS
adapter (functions/adapters/aws/flows.py) checked on the rows it holds."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.adapters.sqlite.codec import dumps, from_us, ledger_doc, ledger_from, opt_dt, to_us
from functions.domain.clock import to_ms
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.flows import (
    FlowDefinition,
    FlowState,
    FlowStatus,
    LedgerEvent,
    StepDefinition,
    StepState,
    StepStatus,
)
from functions.ports import ConditionFailedError, IdempotencyState, IdempotencyStatus

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from functions.adapters.sqlite.db import Database

Doc = dict[str, Any]


def _event(at: datetime, kind: str, step_id: str | None = None, **detail: Any) -> Doc:
    return ledger_doc(LedgerEvent(at, kind, step_id, detail or None))


def _new_step(index: int, step: StepDefinition) -> Doc:
    return {
        "index": index,
        "stepId": step.step_id,
        "run": 1,
        "status": StepStatus.PENDING.value,
        "reason": None,
        "due": None,
        "armed": None,
        "sent": None,
        "attempts": 0,
        "leaseToken": None,
        "leaseUntil": None,
        "lastStatus": None,
        "lastError": None,
        "events": [],
    }


def _step_state(doc: Doc) -> StepState:
    return StepState(
        index=doc["index"],
        step_id=doc["stepId"],
        run=doc["run"],
        status=StepStatus(doc["status"]),
        reason=doc["reason"],
        due_at=opt_dt(doc["due"]),
        armed_at=opt_dt(doc["armed"]),
        sent_at=opt_dt(doc["sent"]),
        attempts=doc["attempts"],
        last_status=doc["lastStatus"],
        last_error=doc["lastError"],
        events=tuple(ledger_from(e) for e in doc["events"]),
    )


@dataclass
class SqliteFlowStore:
    db: Database

    # --- reads ------------------------------------------------------------------------------
    def get(self, flow_id: str) -> FlowState:
        found = self.find(flow_id)
        if found is None:
            raise NotFoundError(f"flow {flow_id} not found")
        return found

    def find(self, flow_id: str) -> FlowState | None:
        with self.db.read() as db:
            flow = self._flow(db, flow_id)
            if flow is None:
                return None
            steps = [
                json.loads(r[0])
                for r in db.execute(
                    "SELECT doc FROM steps WHERE flow_id = ? ORDER BY idx", (flow_id,)
                )
            ]
        definition = FlowDefinition(
            flow_id=flow["flowId"],
            state_token=flow["stateToken"],
            steps=tuple(StepDefinition.from_json(d) for d in flow["definition"]),
        )
        return FlowState(
            definition=definition,
            state_token=flow["stateToken"],
            status=FlowStatus(flow["status"]),
            reason=flow["reason"],
            run=flow["run"],
            advanced_through=flow["advancedThrough"],
            created_at=from_us(flow["created"]),
            steps=tuple(_step_state(s) for s in steps),
            events=tuple(ledger_from(e) for e in flow["events"]),
        )

    def idempotency(self, key: str) -> IdempotencyState | None:
        with self.db.read() as db:
            row = db.execute(
                "SELECT status, lease_until, flow_id, step_id FROM idempotency WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return IdempotencyState(IdempotencyStatus(row[0]), opt_dt(row[1]), row[2], row[3])

    # --- the flow ---------------------------------------------------------------------------
    def create(self, definition: FlowDefinition, *, now: datetime) -> None:
        flow = {
            "flowId": definition.flow_id,
            "stateToken": definition.state_token,
            "status": FlowStatus.RUNNING.value,
            "reason": None,
            "run": 1,
            "advancedThrough": -1,
            "created": to_us(now),
            "definition": [s.to_json() for s in definition.steps],
            "events": [_event(now, "STARTED", stateToken=definition.state_token)],
        }
        with self.db.write() as tx:
            try:
                tx.execute(
                    "INSERT INTO flows (id, doc) VALUES (?, ?)", (definition.flow_id, dumps(flow))
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"flow {definition.flow_id} already exists") from exc
            tx.executemany(
                "INSERT OR REPLACE INTO steps (flow_id, idx, wake_at, doc) VALUES (?, ?, NULL, ?)",
                [
                    (definition.flow_id, i, dumps(_new_step(i, s)))
                    for i, s in enumerate(definition.steps)
                ],
            )

    def restart(self, flow: FlowState, *, now: datetime) -> int:
        run = flow.run + 1
        with self.db.write() as tx:
            doc = self._flow(tx, flow.flow_id)
            if doc is None or doc["run"] != flow.run or doc["status"] == FlowStatus.RUNNING.value:
                raise ConflictError(f"flow {flow.flow_id} changed; read it again")
            doc.update(status=FlowStatus.RUNNING.value, reason=None, run=run)
            doc["events"].append(_event(now, "RESUMED", run=run))
            self._save_flow(tx, flow.flow_id, doc)
        return run

    def set_state(self, flow_id: str, token: str, *, expect: str | None, now: datetime) -> None:
        with self.db.write() as tx:
            doc = self._flow(tx, flow_id)
            if doc is None:
                raise NotFoundError(f"flow {flow_id} not found")
            if expect is not None and doc["stateToken"] != expect:
                raise ConflictError(
                    f"state token is {doc['stateToken']!r}, not the expected {expect!r}",
                    current={"stateToken": doc["stateToken"]},
                )
            doc["stateToken"] = token
            doc["events"].append(_event(now, "STATE_SET", stateToken=token))
            self._save_flow(tx, flow_id, doc)

    def set_status(
        self,
        flow_id: str,
        status: FlowStatus,
        *,
        reason: str | None,
        run: int | None,
        now: datetime,
    ) -> bool:
        with self.db.write() as tx:
            doc = self._flow(tx, flow_id)
            if doc is None:
                return False
            running = (
                doc["status"] == FlowStatus.RUNNING.value and doc["run"] == run
                if run is not None
                else doc["status"] in {FlowStatus.RUNNING.value, FlowStatus.HALTED.value}
            )
            if not running:
                return False
            doc.update(status=status.value, reason=reason or None)
            doc["events"].append(_event(now, status.value, reason=reason))
            self._save_flow(tx, flow_id, doc)
        return True

    def advance(self, flow: FlowState, index: int, *, run: int, now: datetime) -> bool:
        step = flow.definition.steps[index]
        with self.db.write() as tx:
            doc = self._flow(tx, flow.flow_id)
            self._done_waking(tx, flow.flow_id, index)
            if doc is None or doc["advancedThrough"] >= index or doc["run"] != run:
                return False
            doc["advancedThrough"] = index
            # The app may have moved the token on meanwhile: then its token is kept.
            if step.set_state_token is not None and doc["stateToken"] == step.expect_state_token:
                doc["stateToken"] = step.set_state_token
                doc["events"].append(
                    _event(now, "STATE_SET", step.step_id, stateToken=step.set_state_token)
                )
            self._save_flow(tx, flow.flow_id, doc)
        return True

    # --- steps ------------------------------------------------------------------------------
    def arm_step(
        self, flow_id: str, index: int, *, run: int, due_at: datetime, now: datetime
    ) -> bool:
        with self.db.write() as tx:
            doc = self._step(tx, flow_id, index)
            if (
                doc is None
                or doc["status"] == StepStatus.SENT.value
                or not (doc["run"] < run or doc["status"] == StepStatus.PENDING.value)
            ):
                return False
            doc.update(
                status=StepStatus.ARMED.value,
                run=run,
                reason=None,
                due=to_us(due_at),
                armed=to_us(now),
            )
            doc["events"].append(_event(now, "ARMED", None, dueAt=to_ms(due_at), run=run))
            self._save_step(tx, flow_id, index, doc, wake_at=to_us(due_at))
        return True

    def claim(
        self,
        flow: FlowState,
        index: int,
        *,
        run: int,
        now: datetime,
        lease: timedelta,
        lease_token: str,
    ) -> bool:
        step = flow.definition.steps[index]
        with self.db.write() as tx:
            doc = self._flow(tx, flow.flow_id)
            if (
                doc is None
                or doc["stateToken"] != step.expect_state_token
                or doc["status"] != FlowStatus.RUNNING.value
                or doc["run"] != run
            ):
                return False
            key = tx.execute(
                "SELECT status, lease_until FROM idempotency WHERE key = ?",
                (step.idempotency_key,),
            ).fetchone()
            key_free = (
                key is None
                or key[0] == IdempotencyStatus.RETRY.value
                or (key[0] == IdempotencyStatus.IN_FLIGHT.value and key[1] < to_us(now))
            )
            step_doc = self._step(tx, flow.flow_id, index)
            if not key_free or step_doc is None:
                return False
            until = to_us(now + lease)
            tx.execute(
                "INSERT OR REPLACE INTO idempotency (key, status, flow_id, step_id, lease_token,"
                " lease_until, sent_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    step.idempotency_key,
                    IdempotencyStatus.IN_FLIGHT.value,
                    flow.flow_id,
                    step.step_id,
                    lease_token,
                    until,
                ),
            )
            step_doc.update(
                status=StepStatus.IN_FLIGHT.value,
                run=run,
                attempts=step_doc["attempts"] + 1,
                leaseToken=lease_token,
                leaseUntil=until,
            )
            step_doc["events"].append(_event(now, "IN_FLIGHT", step.step_id))
            self._save_step(tx, flow.flow_id, index, step_doc)
        return True

    def record_attempt(
        self,
        flow_id: str,
        index: int,
        *,
        step: StepDefinition,
        lease_token: str,
        status: StepStatus,
        now: datetime,
        response_status: int | None,
        error: str | None,
        retry_at: datetime | None = None,
    ) -> bool:
        with self.db.write() as tx:
            doc = self._step(tx, flow_id, index)
            key = tx.execute(
                "SELECT lease_token FROM idempotency WHERE key = ?", (step.idempotency_key,)
            ).fetchone()
            if doc is None or doc["leaseToken"] != lease_token or key is None:
                return False
            if key[0] != lease_token:
                return False
            doc.update(
                status=status.value,
                leaseToken=None,
                leaseUntil=None,
                lastStatus=response_status,
                lastError=error or None,
            )
            doc["events"].append(
                _event(now, status.value, step.step_id, status=response_status, error=error)
            )
            wake: dict[str, int | None] = {}
            if status is StepStatus.SENT:
                doc["sent"] = to_us(now)
            if retry_at is not None:
                doc["due"] = to_us(retry_at)
                wake["wake_at"] = to_us(retry_at)
            if status is StepStatus.FAILED:
                wake["wake_at"] = None
            self._save_step(tx, flow_id, index, doc, **wake)
            key_status = {
                StepStatus.SENT: IdempotencyStatus.SENT,
                StepStatus.RETRY: IdempotencyStatus.RETRY,
            }.get(status)
            if key_status is None:
                tx.execute("DELETE FROM idempotency WHERE key = ?", (step.idempotency_key,))
            else:
                tx.execute(
                    "UPDATE idempotency SET status = ?, lease_token = NULL, lease_until = NULL,"
                    " sent_at = ? WHERE key = ?",
                    (
                        key_status.value,
                        to_us(now) if status is StepStatus.SENT else None,
                        step.idempotency_key,
                    ),
                )
        return True

    def mark_step(
        self,
        flow_id: str,
        index: int,
        *,
        status: StepStatus,
        reason: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.db.write() as tx:
            doc = self._step(tx, flow_id, index)
            if doc is None or doc["status"] == StepStatus.SENT.value:
                raise ConditionFailedError(f"mark step {index} of {flow_id}: condition not met")
            doc.update(status=status.value, reason=reason)
            doc["events"].append(_event(now, status.value, None, reason=reason, **(detail or {})))
            self._save_step(tx, flow_id, index, doc, wake_at=None)

    # --- inside a transaction ---------------------------------------------------------------
    @staticmethod
    def _flow(db: sqlite3.Connection, flow_id: str) -> Doc | None:
        row = db.execute("SELECT doc FROM flows WHERE id = ?", (flow_id,)).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def _step(db: sqlite3.Connection, flow_id: str, index: int) -> Doc | None:
        row = db.execute(
            "SELECT doc FROM steps WHERE flow_id = ? AND idx = ?", (flow_id, index)
        ).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def _save_flow(tx: sqlite3.Connection, flow_id: str, doc: Doc) -> None:
        tx.execute("UPDATE flows SET doc = ? WHERE id = ?", (dumps(doc), flow_id))

    @staticmethod
    def _save_step(
        tx: sqlite3.Connection, flow_id: str, index: int, doc: Doc, **wake: int | None
    ) -> None:
        if wake:
            tx.execute(
                "UPDATE steps SET doc = ?, wake_at = ? WHERE flow_id = ? AND idx = ?",
                (dumps(doc), wake["wake_at"], flow_id, index),
            )
        else:
            tx.execute(
                "UPDATE steps SET doc = ? WHERE flow_id = ? AND idx = ?",
                (dumps(doc), flow_id, index),
            )

    @staticmethod
    def _done_waking(tx: sqlite3.Connection, flow_id: str, index: int) -> None:
        """A step the flow has moved past needs no recovery."""
        tx.execute(
            "UPDATE steps SET wake_at = NULL WHERE flow_id = ? AND idx = ?", (flow_id, index)
        )
