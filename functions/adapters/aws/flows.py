"""Flow persistence: the flow item (state token), one item per step (the ledger) and one per
idempotency key. The claim of a step is one transaction over all three."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from functions.adapters.aws import schema
from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import FlowEventMap, FlowItem, IdempotencyItem, StepItem
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

IDEM_IN_FLIGHT = IdempotencyStatus.IN_FLIGHT.value
IDEM_RETRY = IdempotencyStatus.RETRY.value
IDEM_SENT = IdempotencyStatus.SENT.value


def _flow_pk(flow_id: str) -> str:
    return f"FLOW#{flow_id}"


def _step_sk(index: int) -> str:
    return f"STEP#{index:03d}"


def _event(at: datetime, kind: str, step_id: str | None = None, **detail: Any) -> FlowEventMap:
    return FlowEventMap(  # type: ignore[no-untyped-call]
        at=at, kind=kind, step_id=step_id, detail=detail or None
    )


def _ledger(raw: list[FlowEventMap] | None) -> tuple[LedgerEvent, ...]:
    return tuple(LedgerEvent(e.at, e.kind, e.step_id, e.detail) for e in raw or [])


def _step_state(item: StepItem) -> StepState:
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
        events=_ledger(item.events),
    )


class FlowStore:
    """Reads and conditional writes of flows, steps and idempotency keys."""

    def get(self, flow_id: str) -> FlowState:
        try:
            flow = FlowItem.get(_flow_pk(flow_id), "FLOW", consistent_read=True)
        except FlowItem.DoesNotExist as exc:
            raise NotFoundError(f"flow {flow_id} not found") from exc
        steps = sorted(
            StepItem.query(
                _flow_pk(flow_id), StepItem.sk.startswith("STEP#"), consistent_read=True
            ),
            key=lambda s: int(s.index),
        )
        definition = FlowDefinition(
            flow_id=flow.flow_id,
            state_token=flow.state_token,
            steps=tuple(StepDefinition.from_json(d) for d in flow.definition),
        )
        return FlowState(
            definition=definition,
            state_token=flow.state_token,
            status=FlowStatus(flow.status),
            reason=flow.reason,
            run=int(flow.run),
            advanced_through=int(flow.advanced_through),
            created_at=flow.created_at,
            steps=tuple(_step_state(s) for s in steps),
            events=_ledger(flow.events),
        )

    def find(self, flow_id: str) -> FlowState | None:
        try:
            return self.get(flow_id)
        except NotFoundError:
            return None

    def create(self, definition: FlowDefinition, *, now: datetime) -> None:
        """The flow and its PENDING steps, in one transaction; fails if the flow exists."""
        pk = _flow_pk(definition.flow_id)
        flow = FlowItem(
            pk,
            "FLOW",
            flow_id=definition.flow_id,
            state_token=definition.state_token,
            status=FlowStatus.RUNNING.value,
            run=1,
            definition=[s.to_json() for s in definition.steps],
            created_at=now,
            advanced_through=-1,
            events=[_event(now, "STARTED", stateToken=definition.state_token)],
        )
        try:
            with TransactWrite(connection=FlowItem._get_connection().connection) as tx:
                tx.save(flow, condition=FlowItem.pk.does_not_exist())
                for index, step in enumerate(definition.steps):
                    tx.save(
                        StepItem(
                            pk,
                            _step_sk(index),
                            flow_id=definition.flow_id,
                            step_id=step.step_id,
                            index=index,
                            run=1,
                            status=StepStatus.PENDING.value,
                            attempts=0,
                            events=[],
                        )
                    )
        except TransactWriteError as exc:
            raise ConflictError(f"flow {definition.flow_id} already exists") from exc

    def restart(self, flow: FlowState, *, now: datetime) -> int:
        """A new run of a halted or finished flow; returns the run number."""
        run = flow.run + 1
        try:
            with storage_errors(f"restart flow {flow.flow_id}"):
                FlowItem(_flow_pk(flow.flow_id), "FLOW").update(
                    actions=[
                        FlowItem.status.set(FlowStatus.RUNNING.value),
                        FlowItem.reason.remove(),
                        FlowItem.run.set(run),
                        FlowItem.events.set(
                            FlowItem.events.append([_event(now, "RESUMED", run=run)])
                        ),
                    ],
                    condition=(FlowItem.run == flow.run)
                    & (FlowItem.status != FlowStatus.RUNNING.value),
                )
        except ConditionFailedError as exc:
            raise ConflictError(f"flow {flow.flow_id} changed; read it again") from exc
        return run

    def set_state(self, flow_id: str, token: str, *, expect: str | None, now: datetime) -> None:
        """Compare-and-set the state token (plain set without `expect`)."""
        condition = FlowItem.pk.exists()
        if expect is not None:
            condition = condition & (FlowItem.state_token == expect)
        try:
            with storage_errors(f"set state of {flow_id}"):
                FlowItem(_flow_pk(flow_id), "FLOW").update(
                    actions=[
                        FlowItem.state_token.set(token),
                        FlowItem.events.set(
                            FlowItem.events.append([_event(now, "STATE_SET", stateToken=token)])
                        ),
                    ],
                    condition=condition,
                )
        except ConditionFailedError as exc:
            current = self.find(flow_id)
            if current is None:
                raise NotFoundError(f"flow {flow_id} not found") from exc
            raise ConflictError(
                f"state token is {current.state_token!r}, not the expected {expect!r}",
                current={"stateToken": current.state_token},
            ) from exc

    def set_status(
        self,
        flow_id: str,
        status: FlowStatus,
        *,
        reason: str | None,
        run: int | None,
        now: datetime,
    ) -> bool:
        """Move a running flow of this run to `status` (any unfinished flow when `run` is None,
        as a cancel does). False if it was not in such a state."""
        actions: list[Action] = [
            FlowItem.status.set(status.value),
            FlowItem.events.set(FlowItem.events.append([_event(now, status.value, reason=reason)])),
        ]
        actions.append(FlowItem.reason.set(reason) if reason else FlowItem.reason.remove())
        running = (
            (FlowItem.status == FlowStatus.RUNNING.value) & (FlowItem.run == run)
            if run is not None
            else FlowItem.status.is_in(FlowStatus.RUNNING.value, FlowStatus.HALTED.value)
        )
        try:
            with storage_errors(f"set status of {flow_id}"):
                FlowItem(_flow_pk(flow_id), "FLOW").update(
                    actions=actions,
                    condition=running,
                )
        except ConditionFailedError:
            return False
        return True

    def arm_step(
        self, flow_id: str, index: int, *, run: int, due_at: datetime, now: datetime
    ) -> bool:
        """Mark a step armed for this run (a step not yet sent). False if it already was."""
        pk = _flow_pk(flow_id)
        try:
            with storage_errors(f"arm step {index} of {flow_id}"):
                StepItem(pk, _step_sk(index)).update(
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
                                [_event(now, "ARMED", None, dueAt=to_ms(due_at), run=run)]
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
        pk = _flow_pk(flow.flow_id)
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
                    StepItem(pk, _step_sk(index)),
                    actions=[
                        StepItem.status.set(StepStatus.IN_FLIGHT.value),
                        StepItem.run.set(run),
                        StepItem.attempts.add(1),
                        StepItem.lease_token.set(lease_token),
                        StepItem.lease_until.set(now + lease),
                        StepItem.events.set(
                            StepItem.events.append([_event(now, "IN_FLIGHT", step.step_id)])
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
        return IdempotencyState(IdempotencyStatus(item.status), item.lease_until)

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
                    [_event(now, status.value, step.step_id, status=response_status, error=error)]
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
        pk = _flow_pk(flow_id)
        idem_key = IdempotencyItem(f"IDEM#{step.idempotency_key}", "IDEM")
        try:
            with TransactWrite(connection=FlowItem._get_connection().connection) as tx:
                tx.update(
                    StepItem(pk, _step_sk(index)),
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
        self, flow_id: str, index: int, *, status: StepStatus, reason: str, now: datetime
    ) -> None:
        """Record why a step sent nothing (skipped: stale, disabled) or was cancelled."""
        with storage_errors(f"mark step {index} of {flow_id}"):
            StepItem(_flow_pk(flow_id), _step_sk(index)).update(
                actions=[
                    StepItem.status.set(status.value),
                    StepItem.reason.set(reason),
                    StepItem.wake_shard.remove(),
                    StepItem.wake_at.remove(),
                    StepItem.events.set(
                        StepItem.events.append([_event(now, status.value, None, reason=reason)])
                    ),
                ],
                condition=StepItem.status != StepStatus.SENT.value,
            )

    def advance(self, flow: FlowState, index: int, *, run: int, now: datetime) -> bool:
        """Move the flow past a sent step, once: apply its token change if the flow still holds
        the token the step expected, and note how far the flow got. False if already done."""
        step = flow.definition.steps[index]
        not_done = (FlowItem.advanced_through < index) & (FlowItem.run == run)
        base: list[Action] = [FlowItem.advanced_through.set(index)]
        pk = _flow_pk(flow.flow_id)
        if step.set_state_token is not None:
            try:
                with storage_errors(f"advance {flow.flow_id}"):
                    FlowItem(pk, "FLOW").update(
                        actions=[
                            *base,
                            FlowItem.state_token.set(step.set_state_token),
                            FlowItem.events.set(
                                FlowItem.events.append(
                                    [
                                        _event(
                                            now,
                                            "STATE_SET",
                                            step.step_id,
                                            stateToken=step.set_state_token,
                                        )
                                    ]
                                )
                            ),
                        ],
                        condition=not_done & (FlowItem.state_token == step.expect_state_token),
                    )
                self._done_waking(flow.flow_id, index)
                return True
            except ConditionFailedError:
                pass  # already advanced, or the app moved the token on: keep its token
        try:
            with storage_errors(f"advance {flow.flow_id}"):
                FlowItem(pk, "FLOW").update(actions=base, condition=not_done)
        except ConditionFailedError:
            self._done_waking(flow.flow_id, index)
            return False
        self._done_waking(flow.flow_id, index)
        return True

    @staticmethod
    def _done_waking(flow_id: str, index: int) -> None:
        """A step the flow has moved past needs no recovery."""
        with storage_errors(f"settle step {index} of {flow_id}"):
            StepItem(_flow_pk(flow_id), _step_sk(index)).update(
                actions=[StepItem.wake_shard.remove(), StepItem.wake_at.remove()]
            )
