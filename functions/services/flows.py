"""Run flows: start (arm exactly the first step), run one step per invocation, advance.

Every step goes through the same path whether a timer fired it or an operator replays it:
claim (one transaction: state token, idempotency key, lease) → signed HTTP request → record
the attempt (step and key together) → advance the flow's token → arm only the next step.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.domain import timeouts
from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.flows import (
    FlowState,
    FlowStatus,
    SkipReason,
    StepStatus,
    parse_flow,
)
from functions.domain.limits import kept_error
from functions.domain.outcomes import Verdict, judge
from functions.domain.timers import (
    EARLY_TOLERANCE,
    STEP,
    TimerPayload,
    parse_step_target,
    step_target,
)
from functions.domain.views import flow_view
from functions.observability import logger
from functions.ports import (
    ConditionFailedError,
    FlowStore,
    IdempotencyState,
    IdempotencyStatus,
    TimerPort,
)
from functions.services.sender import attempt as send_attempt

if TYPE_CHECKING:
    from collections.abc import Callable

    from functions.domain.clock import Clock
    from functions.domain.signing import Signer
    from functions.services.killswitches import KillSwitches
    from functions.services.transport import Transport


@dataclass(frozen=True)
class StepResult:
    """The answer of a step run: `{"ok": true}`, or skipped with a reason, or an error."""

    ok: bool = True
    skipped: bool = False
    reason: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok}
        if self.skipped:
            body["skipped"] = True
        if self.reason:
            body["reason"] = self.reason
        if self.error:
            body["error"] = self.error
        return body


def _skipped(reason: SkipReason) -> StepResult:
    return StepResult(ok=True, skipped=True, reason=reason.value)


@dataclass
class FlowRunner:
    store: FlowStore
    timers: TimerPort
    switches: KillSwitches
    signer: Callable[[], Signer]
    http: Transport
    clock: Clock
    allow_private: bool
    allowed_hosts: tuple[str, ...] = ()
    default_retries: int = 3
    sleep: Callable[[float], None] = field(default=time.sleep)
    lease: timedelta = timedelta(seconds=timeouts.LEASE_SECONDS)

    # --- the API ---------------------------------------------------------------------------
    def start(self, flow_id: str, body: dict[str, Any] | None) -> tuple[bool, dict[str, Any]]:
        """Start a flow (arming only its first step), or resume a halted one from its first
        unsent step. Idempotent on the id: a running flow is returned as it is."""
        definition = parse_flow(flow_id, body, default_retries=self.default_retries)
        now = self.clock()
        existing = self.store.find(flow_id)
        if existing is None:
            self.switches.check(flow_id=flow_id, what="flow")
            try:
                self.store.create(definition, now=now)
            except ConflictError:
                return False, self.view(flow_id)  # a concurrent start won
            self._arm(flow_id, 0, run=1, due=now + definition.steps[0].delay)
            return True, self.view(flow_id)
        if existing.status is FlowStatus.RUNNING:
            return False, flow_view(existing)
        if definition.state_token != existing.state_token:
            raise ConflictError(
                f"flow {flow_id} holds state token {existing.state_token!r}; starting it again "
                f"with {definition.state_token!r} would override it (set the state first)",
                current={"stateToken": existing.state_token},
            )
        index = existing.first_unsent()
        if index is None:
            return False, flow_view(existing)  # every step was sent: nothing to resume
        self.switches.check(flow_id=flow_id, what="flow")
        run = self.store.restart(existing, now=now)
        self._arm(flow_id, index, run=run, due=now)
        return True, self.view(flow_id)

    def view(self, flow_id: str) -> dict[str, Any]:
        return flow_view(self.store.get(flow_id))

    def set_state(self, flow_id: str, token: str, expect: str | None) -> dict[str, Any]:
        self.store.set_state(flow_id, token, expect=expect, now=self.clock())
        return self.view(flow_id)

    def cancel(self, flow_id: str) -> dict[str, Any]:
        """Cancel what is armed; a timer that still fires finds the flow cancelled."""
        flow = self.store.get(flow_id)
        now = self.clock()
        self.store.set_status(flow_id, FlowStatus.CANCELED, reason="cancelled", run=None, now=now)
        for step in flow.steps:
            if step.status in {StepStatus.ARMED, StepStatus.RETRY} and step.due_at is not None:
                self.store.mark_step(
                    flow_id, step.index, status=StepStatus.CANCELED, reason="cancelled", now=now
                )
                self.timers.disarm(step_target(flow_id, step.run, step.index), step.due_at)
        return self.view(flow_id)

    def replay(self, flow_id: str, step_id: str) -> StepResult:
        """Run a step now, as an operator replay: at most one send per idempotency key."""
        flow = self.store.get(flow_id)
        try:
            index = flow.definition.index_of(step_id)
        except KeyError as exc:
            raise NotFoundError(f"flow {flow_id} has no step {step_id}") from exc
        if self.switches.blocks(flow_id=flow_id):
            return _skipped(SkipReason.DISABLED)
        return self._run(flow, index, run=flow.run)

    # --- timers ----------------------------------------------------------------------------
    def handle_timer(self, payload: TimerPayload) -> StepResult:
        """A step's timer fired (or recovery re-armed it)."""
        flow_id, run, index = parse_step_target(payload.target_id)
        flow = self.store.find(flow_id)
        if flow is None:
            return _skipped(SkipReason.NOT_RUNNING)
        return self._run(flow, index, run=run or flow.run)

    # --- one step --------------------------------------------------------------------------
    def _run(self, flow: FlowState, index: int, *, run: int) -> StepResult:
        step = flow.definition.steps[index]
        if flow.status is not FlowStatus.RUNNING or flow.run != run:
            idem = self.store.idempotency(step.idempotency_key)
            if idem is not None and idem.status == IdempotencyStatus.SENT:
                return _skipped(SkipReason.ALREADY_SENT)
            return _skipped(SkipReason.NOT_RUNNING)
        lease_token = secrets.token_hex(8)
        if not self.store.claim(
            flow, index, run=run, now=self.clock(), lease=self.lease, lease_token=lease_token
        ):
            return self._explain(flow, index, run=run)
        due = flow.steps[index].due_at
        wait = (due - self.clock()).total_seconds() if due is not None else 0.0
        if 0 < wait <= EARLY_TOLERANCE.total_seconds():
            self.sleep(wait)
        return self._send(flow, index, run=run, lease_token=lease_token)

    def _explain(self, flow: FlowState, index: int, *, run: int) -> StepResult:
        """Why a claim lost, and what follows from it."""
        step = flow.definition.steps[index]
        idem = self.store.idempotency(step.idempotency_key)
        if idem is not None and idem.status == IdempotencyStatus.SENT:
            # Sent before: by this step (a replay, or a crash cut the advance short), or by
            # another flow reusing the key. The ledger says which; then the flow moves on.
            if flow.steps[index].status is not StepStatus.SENT:
                self._mark_sent_elsewhere(flow, index, idem)
            self._continue(flow, index, run=run)
            return _skipped(SkipReason.ALREADY_SENT)
        now = self.clock()
        live_lease = idem is not None and (idem.lease_until is None or idem.lease_until >= now)
        if idem is not None and idem.status == IdempotencyStatus.IN_FLIGHT and live_lease:
            return _skipped(SkipReason.IN_FLIGHT)
        current = self.store.get(flow.flow_id)
        if current.status is FlowStatus.RUNNING and current.state_token != step.expect_state_token:
            self._halt(flow.flow_id, index, StepStatus.SKIPPED, SkipReason.STALE_STATE, run=run)
            return _skipped(SkipReason.STALE_STATE)
        return _skipped(SkipReason.NOT_RUNNING)

    def _mark_sent_elsewhere(self, flow: FlowState, index: int, idem: IdempotencyState) -> None:
        # ConditionFailedError: this step itself was recorded sent meanwhile; nothing to explain.
        with contextlib.suppress(ConditionFailedError):
            self.store.mark_step(
                flow.flow_id,
                index,
                status=StepStatus.SKIPPED,
                reason=SkipReason.ALREADY_SENT.value,
                now=self.clock(),
                detail={"sentBy": {"flowId": idem.flow_id, "stepId": idem.step_id}},
            )

    def _send(self, flow: FlowState, index: int, *, run: int, lease_token: str) -> StepResult:
        step = flow.definition.steps[index]
        attempt = flow.steps[index].attempts + 1
        sent = send_attempt(
            self.http,
            method=step.method,
            url=step.destination,
            headers=self._headers(flow, index, attempt),
            body=step.body,
            timeout_seconds=timeouts.DEFAULT_DELIVERY_TIMEOUT_SECONDS,
            allow_private=self.allow_private,
            allowed_hosts=self.allowed_hosts,
        )
        result = sent.result
        now = self.clock()
        judgement = judge(
            result,
            retried=attempt - 1,
            max_retries=step.retries,
            retry_delay_expression=step.retry_delay,
            now=now,
            refused=sent.refused,
        )
        status = {Verdict.DELIVERED: StepStatus.SENT, Verdict.RETRY: StepStatus.RETRY}.get(
            judgement.verdict, StepStatus.FAILED
        )
        recorded = self.store.record_attempt(
            flow.flow_id,
            index,
            step=step,
            lease_token=lease_token,
            status=status,
            now=now,
            response_status=result.status,
            error=kept_error(result.error),
            retry_at=judgement.next_due,
        )
        if status is StepStatus.SENT:
            if recorded:
                self._continue(flow, index, run=run)
            logger.info("step sent", extra={"flow_id": flow.flow_id, "step_id": step.step_id})
            return StepResult()
        if status is StepStatus.RETRY and judgement.next_due is not None:
            if recorded:
                self.timers.arm(
                    TimerPayload(
                        step_target(flow.flow_id, run, index), judgement.next_due, kind=STEP
                    ),
                    now=now,
                )
            return StepResult(ok=False, reason="retrying", error=result.error)
        self.store.set_status(
            flow.flow_id, FlowStatus.FAILED, reason=f"step {step.step_id} failed", run=run, now=now
        )
        return StepResult(ok=False, reason="failed", error=result.error)

    def _continue(self, flow: FlowState, index: int, *, run: int) -> None:
        """After a sent step: apply its token change, then arm only the next step (unless a
        kill switch is on, which halts the flow) or complete the flow."""
        now = self.clock()
        self.store.advance(flow, index, run=run, now=now)
        following = index + 1
        if following >= len(flow.definition.steps):
            self.store.set_status(flow.flow_id, FlowStatus.COMPLETED, reason=None, run=run, now=now)
            return
        if self.switches.blocks(flow_id=flow.flow_id):
            self._halt(flow.flow_id, following, StepStatus.PENDING, SkipReason.DISABLED, run=run)
            return
        self._arm(
            flow.flow_id, following, run=run, due=now + flow.definition.steps[following].delay
        )

    def _halt(
        self, flow_id: str, index: int, step_status: StepStatus, reason: SkipReason, *, run: int
    ) -> None:
        """Stop the flow at step `index`, recording why on the step and on the flow."""
        now = self.clock()
        self.store.mark_step(flow_id, index, status=step_status, reason=reason.value, now=now)
        self.store.set_status(flow_id, FlowStatus.HALTED, reason=reason.value, run=run, now=now)

    def _arm(self, flow_id: str, index: int, *, run: int, due: datetime) -> None:
        """Record the step as armed, then arm its timer (always in that order)."""
        if self.store.arm_step(flow_id, index, run=run, due_at=due, now=self.clock()):
            self.timers.arm(
                TimerPayload(step_target(flow_id, run, index), due, kind=STEP), now=self.clock()
            )

    def _headers(self, flow: FlowState, index: int, attempt: int) -> dict[str, str]:
        step = flow.definition.steps[index]
        signed = self.signer().headers(
            message_id=step.idempotency_key, url=step.destination, body=step.body, now=self.clock()
        )
        return {
            **step.headers,
            **signed,
            "Idempotency-Key": step.idempotency_key,
            "Upstash-Message-Id": step.idempotency_key,
            "Upstash-Retried": str(attempt - 1),
            "Duetime-Flow-Id": flow.flow_id,
            "Duetime-Step-Id": step.step_id,
        }
