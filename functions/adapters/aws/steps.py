"""The steps of a flow on DynamoDB: one item per step (the ledger) and one per idempotency
key. A step's claim is one transaction over the flow, the step and its key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.adapters.aws import schema
from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import FlowEventMap, FlowItem, IdempotencyItem, StepItem
from functions.domain.clock import to_ms
from functions.domain.flows import (
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

    from pynamodb.expressions.update import Action

IDEM_IN_FLIGHT = IdempotencyStatus.IN_FLIGHT.value
IDEM_RETRY = IdempotencyStatus.RETRY.value
IDEM_SENT = IdempotencyStatus.SENT.value


def flow_pk(flow_id: str) -> str:
    return f"FLOW#{flow_id}"


def step_sk(index: int) -> str:
    return f"STEP#{index:03d}"


def entry(at: datetime, kind: str, step_id: str | None = None, **detail: Any) -> FlowEventMap:
    return FlowEventMap(  # type: ignore[no-untyped-call]
        at=at, kind=kind, step_id=step_id, detail=detail or None
    )


def ledger(raw: list[FlowEventMap] | None) -> tuple[LedgerEvent, ...]:
    return tuple(LedgerEvent(e.at, e.kind, e.step_id, e.detail) for e in raw or [])


def step_state(item: StepItem) -> StepState:
    return StepState(
        index=int(item.index),
        step_id=item.step_id,
        run=int(item.run),
        status=StepStatus(item.status),
        reason=item.reason,
        due_at=item.due_at,
        armed_at=item.armed_at,
        sent_at=item.sent_at,
        attempts=int(item.attempts or 0),
        last_status=int(item.last_status) if item.last_status is not None else None,
        last_error=item.last_error,
        events=ledger(item.events),
    )


class StepLedger:
    """Step and idempotency-key writes (the flow store below adds the flow item's)."""

    def arm_step(
        self, flow_id: str, index: int, *, run: int, due_at: datetime, now: datetime
    ) -> bool:
        """Mark a step armed for this run (a step not yet sent). False if it already was."""
        pk = flow_pk(flow_id)
        try:
            with storage_errors(f"arm step {index} of {flow_id}"):
                StepItem(pk, step_sk(index)).update(
                    actions=[
                        StepItem.status.set(StepStatus.ARMED.value),
                        StepItem.run.set(run),
                        StepItem.reason.remove(),
                        StepItem.due_at.set(due_at),
                        StepItem.armed_at.set(now),
                        StepItem.wake_shard.set(schema.wake_shard(f"{flow_id}#{index}")),
                        StepItem.wake_at.set(to_ms(due_at)),
                        StepItem.events.set(
                            StepItem.events.append(
                                [entry(now, "ARMED", None, dueAt=to_ms(due_at), run=run)]
                            )
                        ),
                    ],
                    condition=StepItem.pk.exists()
                    & (StepItem.status != StepStatus.SENT.value)
                    & ((StepItem.run < run) | (StepItem.status == StepStatus.PENDING.value)),
                )
        except ConditionFailedError:
            return False
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
        """One transaction: the flow still holds the token this step expects (and this run),
        the idempotency key is unused (or left to retry, or its lease expired), and the step
        is marked in flight with a lease. False when any of it does not hold."""
        step = flow.definition.steps[index]
        pk = flow_pk(flow.flow_id)
        idem = IdempotencyItem(
            f"IDEM#{step.idempotency_key}",
            "IDEM",
            status=IDEM_IN_FLIGHT,
            flow_id=flow.flow_id,
            step_id=step.step_id,
            lease_token=lease_token,
            lease_until=now + lease,
        )
        key_free = (
            IdempotencyItem.pk.does_not_exist()
            | (IdempotencyItem.status == IDEM_RETRY)
            | ((IdempotencyItem.status == IDEM_IN_FLIGHT) & (IdempotencyItem.lease_until < now))
        )
        try:
            with TransactWrite(connection=FlowItem._get_connection().connection) as tx:
                tx.condition_check(
                    FlowItem,
                    pk,
                    "FLOW",
                    condition=(FlowItem.state_token == step.expect_state_token)
                    & (FlowItem.status == FlowStatus.RUNNING.value)
                    & (FlowItem.run == run),
                )
                tx.save(idem, condition=key_free)
                tx.update(
                    StepItem(pk, step_sk(index)),
                    actions=[
                        StepItem.status.set(StepStatus.IN_FLIGHT.value),
                        StepItem.run.set(run),
                        StepItem.attempts.add(1),
                        StepItem.lease_token.set(lease_token),
                        StepItem.lease_until.set(now + lease),
                        StepItem.events.set(
                            StepItem.events.append([entry(now, "IN_FLIGHT", step.step_id)])
                        ),
                    ],
                    condition=StepItem.pk.exists(),
                )
        except TransactWriteError:
            return False
        return True

    def idempotency(self, key: str) -> IdempotencyState | None:
        try:
            item = IdempotencyItem.get(f"IDEM#{key}", "IDEM", consistent_read=True)
        except IdempotencyItem.DoesNotExist:
            return None
        return IdempotencyState(
            IdempotencyStatus(item.status), item.lease_until, item.flow_id, item.step_id
        )

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
        """Record a sent, retried or failed attempt, on the step and its idempotency key at
        once. Only the lease holder may; False otherwise."""
        idem_status = {StepStatus.SENT: IDEM_SENT, StepStatus.RETRY: IDEM_RETRY}.get(status)
        step_actions: list[Action] = [
            StepItem.status.set(status.value),
            StepItem.lease_token.remove(),
            StepItem.lease_until.remove(),
            StepItem.events.set(
                StepItem.events.append(
                    [entry(now, status.value, step.step_id, status=response_status, error=error)]
                )
            ),
        ]
        step_actions.append(
            StepItem.last_status.set(response_status)
            if response_status is not None
            else StepItem.last_status.remove()
        )
        step_actions.append(
            StepItem.last_error.set(error) if error else StepItem.last_error.remove()
        )
        if status is StepStatus.SENT:
            step_actions.append(StepItem.sent_at.set(now))
        if retry_at is not None:
            step_actions += [StepItem.due_at.set(retry_at), StepItem.wake_at.set(to_ms(retry_at))]
        if status is StepStatus.FAILED:
            step_actions += [StepItem.wake_shard.remove(), StepItem.wake_at.remove()]
        pk = flow_pk(flow_id)
        idem_key = IdempotencyItem(f"IDEM#{step.idempotency_key}", "IDEM")
        try:
            with TransactWrite(connection=FlowItem._get_connection().connection) as tx:
                tx.update(
                    StepItem(pk, step_sk(index)),
                    actions=step_actions,
                    condition=StepItem.lease_token == lease_token,
                )
                if idem_status is None:
                    tx.delete(idem_key, condition=IdempotencyItem.lease_token == lease_token)
                else:
                    idem_actions: list[Action] = [
                        IdempotencyItem.status.set(idem_status),
                        IdempotencyItem.lease_token.remove(),
                        IdempotencyItem.lease_until.remove(),
                    ]
                    if status is StepStatus.SENT:
                        idem_actions.append(IdempotencyItem.sent_at.set(now))
                    tx.update(
                        idem_key,
                        actions=idem_actions,
                        condition=IdempotencyItem.lease_token == lease_token,
                    )
        except TransactWriteError:
            return False
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
        """Record why a step sent nothing (skipped: stale, disabled) or was cancelled."""
        with storage_errors(f"mark step {index} of {flow_id}"):
            StepItem(flow_pk(flow_id), step_sk(index)).update(
                actions=[
                    StepItem.status.set(status.value),
                    StepItem.reason.set(reason),
                    StepItem.wake_shard.remove(),
                    StepItem.wake_at.remove(),
                    StepItem.events.set(
                        StepItem.events.append(
                            [entry(now, status.value, None, reason=reason, **(detail or {}))]
                        )
                    ),
                ],
                condition=StepItem.status != StepStatus.SENT.value,
            )

    @staticmethod
    def _done_waking(flow_id: str, index: int) -> None:
        """A step the flow has moved past needs no recovery."""
        with storage_errors(f"settle step {index} of {flow_id}"):
            StepItem(flow_pk(flow_id), step_sk(index)).update(
                actions=[StepItem.wake_shard.remove(), StepItem.wake_at.remove()]
            )
