"""Flows on DynamoDB: the flow item (the state token, status and run); its steps and their
idempotency keys are in steps.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.adapters.aws.errors import storage_errors
from functions.adapters.aws.models import FlowItem, StepItem
from functions.adapters.aws.steps import (
    StepLedger,
    entry,
    flow_pk,
    ledger,
    step_sk,
    step_state,
)
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.flows import (
    FlowDefinition,
    FlowState,
    FlowStatus,
    StepDefinition,
    StepStatus,
)
from functions.ports import ConditionFailedError

if TYPE_CHECKING:
    from datetime import datetime

    from pynamodb.expressions.update import Action


class FlowStore(StepLedger):
    """Reads and conditional writes of flows, steps and idempotency keys."""

    def get(self, flow_id: str) -> FlowState:
        try:
            flow = FlowItem.get(flow_pk(flow_id), "FLOW", consistent_read=True)
        except FlowItem.DoesNotExist as exc:
            raise NotFoundError(f"flow {flow_id} not found") from exc
        steps = sorted(
            StepItem.query(flow_pk(flow_id), StepItem.sk.startswith("STEP#"), consistent_read=True),
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
            steps=tuple(step_state(s) for s in steps),
            events=ledger(flow.events),
        )

    def find(self, flow_id: str) -> FlowState | None:
        try:
            return self.get(flow_id)
        except NotFoundError:
            return None

    def create(self, definition: FlowDefinition, *, now: datetime) -> None:
        """The flow and its PENDING steps, in one transaction; fails if the flow exists."""
        pk = flow_pk(definition.flow_id)
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
            events=[entry(now, "STARTED", stateToken=definition.state_token)],
        )
        try:
            with TransactWrite(connection=FlowItem._get_connection().connection) as tx:
                tx.save(flow, condition=FlowItem.pk.does_not_exist())
                for index, step in enumerate(definition.steps):
                    tx.save(
                        StepItem(
                            pk,
                            step_sk(index),
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
                FlowItem(flow_pk(flow.flow_id), "FLOW").update(
                    actions=[
                        FlowItem.status.set(FlowStatus.RUNNING.value),
                        FlowItem.reason.remove(),
                        FlowItem.run.set(run),
                        FlowItem.events.set(
                            FlowItem.events.append([entry(now, "RESUMED", run=run)])
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
                FlowItem(flow_pk(flow_id), "FLOW").update(
                    actions=[
                        FlowItem.state_token.set(token),
                        FlowItem.events.set(
                            FlowItem.events.append([entry(now, "STATE_SET", stateToken=token)])
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
            FlowItem.events.set(FlowItem.events.append([entry(now, status.value, reason=reason)])),
        ]
        actions.append(FlowItem.reason.set(reason) if reason else FlowItem.reason.remove())
        running = (
            (FlowItem.status == FlowStatus.RUNNING.value) & (FlowItem.run == run)
            if run is not None
            else FlowItem.status.is_in(FlowStatus.RUNNING.value, FlowStatus.HALTED.value)
        )
        try:
            with storage_errors(f"set status of {flow_id}"):
                FlowItem(flow_pk(flow_id), "FLOW").update(
                    actions=actions,
                    condition=running,
                )
        except ConditionFailedError:
            return False
        return True

    def advance(self, flow: FlowState, index: int, *, run: int, now: datetime) -> bool:
        """Move the flow past a sent step, once: apply its token change if the flow still holds
        the token the step expected, and note how far the flow got. False if already done."""
        step = flow.definition.steps[index]
        not_done = (FlowItem.advanced_through < index) & (FlowItem.run == run)
        base: list[Action] = [FlowItem.advanced_through.set(index)]
        pk = flow_pk(flow.flow_id)
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
                                        entry(
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
