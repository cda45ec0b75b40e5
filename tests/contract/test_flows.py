"""FlowStore: the flow (its state token), its steps (the ledger) and the idempotency keys; the
step claim is one atomic check of all three."""

from __future__ import annotations

from datetime import datetime

import pytest

from functions.domain.errors import ConflictError, NotFoundError
from functions.domain.flows import FlowDefinition, FlowState, FlowStatus, StepStatus
from functions.ports import (
    Adapters,
    ConditionFailedError,
    IdempotencyState,
    IdempotencyStatus,
)
from tests.contract.builders import LEASE, T0, at, new_flow, race

KEY_A = "flow-1:a"  # step a's default idempotency key


def _started(backend: Adapters, flow_id: str = "flow-1", *, key: str | None = None) -> FlowState:
    backend.flows.create(new_flow(flow_id, key=key), now=T0)
    return backend.flows.get(flow_id)


def _claim(
    backend: Adapters, flow: FlowState, index: int = 0, *, now: datetime, token: str, run: int = 1
) -> bool:
    return backend.flows.claim(flow, index, run=run, now=now, lease=LEASE, lease_token=token)


def _record(
    backend: Adapters,
    flow: FlowState,
    index: int = 0,
    *,
    token: str,
    status: StepStatus,
    now: datetime,
    retry_at: datetime | None = None,
) -> bool:
    return backend.flows.record_attempt(
        flow.flow_id,
        index,
        step=flow.definition.steps[index],
        lease_token=token,
        status=status,
        now=now,
        response_status=200 if status is StepStatus.SENT else 503,
        error=None if status is StepStatus.SENT else "HTTP 503",
        retry_at=retry_at,
    )


def _sent(backend: Adapters, flow: FlowState, index: int = 0, *, now: datetime) -> None:
    assert _claim(backend, flow, index, now=now, token=f"send-{index}")
    assert _record(backend, flow, index, token=f"send-{index}", status=StepStatus.SENT, now=now)


# --- create and read ------------------------------------------------------------------------


def test_a_created_flow_is_running_with_pending_steps(backend: Adapters) -> None:
    # Given a flow definition of two steps
    definition: FlowDefinition = new_flow("flow-1")
    # When it is created
    backend.flows.create(definition, now=T0)
    # Then it reads back running its first run on its initial token, nothing advanced
    flow = backend.flows.get("flow-1")
    assert flow.definition == definition
    assert (flow.state_token, flow.status, flow.reason) == ("t0", FlowStatus.RUNNING, None)
    assert (flow.run, flow.advanced_through, flow.created_at) == (1, -1, T0)
    assert [e.kind for e in flow.events] == ["STARTED"]
    # And each step is PENDING, never attempted
    assert [(s.index, s.step_id, s.status, s.attempts) for s in flow.steps] == [
        (0, "a", StepStatus.PENDING, 0),
        (1, "b", StepStatus.PENDING, 0),
    ]
    assert backend.flows.find("flow-1") == flow


def test_creating_an_existing_flow_is_a_conflict(backend: Adapters) -> None:
    # Given a flow whose first step was claimed
    flow = _started(backend)
    assert _claim(backend, flow, now=T0, token="lease-1")
    before = backend.flows.get("flow-1")
    # When a flow with the same id is created again
    with pytest.raises(ConflictError):
        backend.flows.create(new_flow("flow-1"), now=at(60))
    # Then the flow and its steps are unchanged
    assert backend.flows.get("flow-1") == before


def test_an_unknown_flow_is_not_found(backend: Adapters) -> None:
    # Given no flows
    # Then get raises NotFoundError, find returns None, no key exists
    with pytest.raises(NotFoundError):
        backend.flows.get("nope")
    assert backend.flows.find("nope") is None
    assert backend.flows.idempotency("nope:a") is None


# --- the step claim -------------------------------------------------------------------------


def test_a_step_claim_wins_once_and_takes_the_key_in_flight(backend: Adapters) -> None:
    # Given a running flow on the token its first step expects
    flow = _started(backend)
    # When the first step is claimed
    won = _claim(backend, flow, now=T0, token="lease-1")
    # Then it wins: the step is in flight, attempted once, and its key is leased
    assert won is True
    step = backend.flows.get("flow-1").steps[0]
    assert (step.status, step.attempts, step.run) == (StepStatus.IN_FLIGHT, 1, 1)
    assert backend.flows.idempotency(KEY_A) == IdempotencyState(
        IdempotencyStatus.IN_FLIGHT, T0 + LEASE, "flow-1", "a"
    )


def test_concurrent_step_claims_have_exactly_one_winner(backend: Adapters) -> None:
    # Given a running flow
    flow = _started(backend)
    # When ten workers claim its first step at once
    outcomes = race(10, lambda i: _claim(backend, flow, now=T0, token=f"lease-{i}"))
    # Then one wins, and the step was attempted once
    assert sorted(outcomes, key=str) == [False] * 9 + [True]
    assert backend.flows.get("flow-1").steps[0].attempts == 1


def test_a_second_claim_loses_while_the_lease_lives_and_wins_once_it_expired(
    backend: Adapters,
) -> None:
    # Given a step claimed at T0 with a 30 s lease
    flow = _started(backend)
    assert _claim(backend, flow, now=T0, token="first")
    # When it is claimed again before the lease ends, and at its very end
    # Then those claims lose and change nothing
    for now in (at(10), at(30)):
        assert _claim(backend, flow, now=now, token="second") is False
    assert backend.flows.get("flow-1").steps[0].attempts == 1
    assert backend.flows.idempotency(KEY_A) == IdempotencyState(
        IdempotencyStatus.IN_FLIGHT, T0 + LEASE, "flow-1", "a"
    )
    # When it is claimed after the lease ended (the first attempt crashed)
    # Then that claim wins with a fresh lease
    assert _claim(backend, flow, now=at(31), token="second") is True
    assert backend.flows.get("flow-1").steps[0].attempts == 2
    assert backend.flows.idempotency(KEY_A) == IdempotencyState(
        IdempotencyStatus.IN_FLIGHT, at(61), "flow-1", "a"
    )


def test_a_claim_on_a_wrong_state_token_loses_and_takes_no_key(backend: Adapters) -> None:
    # Given a flow whose app moved the token on, away from what step a expects
    flow = _started(backend)
    backend.flows.set_state("flow-1", "elsewhere", expect=None, now=T0)
    # When step a is claimed
    won = _claim(backend, flow, now=at(1), token="lease-1")
    # Then it loses, the step is untouched and the key is not taken
    assert won is False
    assert backend.flows.get("flow-1").steps[0].status is StepStatus.PENDING
    assert backend.flows.get("flow-1").steps[0].attempts == 0
    assert backend.flows.idempotency(KEY_A) is None
    # And step b, which expects t1, loses too while the token is elsewhere
    assert _claim(backend, flow, 1, now=at(1), token="lease-2") is False


def test_a_claim_of_a_flow_not_running_or_of_another_run_loses(backend: Adapters) -> None:
    # Given a running flow in its first run
    flow = _started(backend)
    # When a step is claimed for another run
    # Then it loses
    assert _claim(backend, flow, now=T0, token="lease-1", run=2) is False
    # When the flow is halted and its step claimed for its run
    assert backend.flows.set_status(
        "flow-1", FlowStatus.HALTED, reason="stale_state", run=1, now=T0
    )
    # Then that loses too, and no key was taken
    assert _claim(backend, flow, now=at(1), token="lease-2") is False
    assert backend.flows.idempotency(KEY_A) is None


def test_a_sent_key_makes_every_later_claim_lose_even_of_another_flow(
    backend: Adapters,
) -> None:
    # Given a step sent under an explicit idempotency key
    flow = _started(backend, key="order-42:email")
    _sent(backend, flow, now=T0)
    assert backend.flows.idempotency("order-42:email") == IdempotencyState(
        IdempotencyStatus.SENT, None, "flow-1", "a"
    )
    # When the step is claimed again, much later
    # Then it loses
    assert _claim(backend, flow, now=at(3600), token="again") is False
    # When another flow reuses that key for its own first step
    other = _started(backend, "flow-2", key="order-42:email")
    # Then its claim loses too, and its step is untouched
    assert _claim(backend, other, now=at(3600), token="other") is False
    step = backend.flows.get("flow-2").steps[0]
    assert (step.status, step.attempts) == (StepStatus.PENDING, 0)
    assert backend.flows.idempotency("order-42:email") == IdempotencyState(
        IdempotencyStatus.SENT, None, "flow-1", "a"
    )


def test_a_retry_key_can_be_claimed_again(backend: Adapters) -> None:
    # Given a step whose attempt recorded a RETRY for a minute later
    flow = _started(backend)
    assert _claim(backend, flow, now=T0, token="lease-1")
    assert _record(
        backend, flow, token="lease-1", status=StepStatus.RETRY, now=at(1), retry_at=at(61)
    )
    # Then the step waits to retry, its key released
    step = backend.flows.get("flow-1").steps[0]
    assert (step.status, step.due_at, step.last_status, step.last_error) == (
        StepStatus.RETRY,
        at(61),
        503,
        "HTTP 503",
    )
    assert backend.flows.idempotency(KEY_A) == IdempotencyState(
        IdempotencyStatus.RETRY, None, "flow-1", "a"
    )
    # When it is claimed again
    # Then the claim wins, a second attempt
    assert _claim(backend, flow, now=at(61), token="lease-2") is True
    assert backend.flows.get("flow-1").steps[0].attempts == 2


def test_record_attempt_succeeds_only_with_the_lease_token(backend: Adapters) -> None:
    # Given a step claimed by a second worker after the first one's lease expired
    flow = _started(backend)
    assert _claim(backend, flow, now=T0, token="old")
    assert _claim(backend, flow, now=at(31), token="new")
    before = backend.flows.get("flow-1")
    # When the old worker records SENT
    recorded = _record(backend, flow, token="old", status=StepStatus.SENT, now=at(32))
    # Then it is refused and nothing changed
    assert recorded is False
    assert backend.flows.get("flow-1") == before
    assert backend.flows.idempotency(KEY_A) == IdempotencyState(
        IdempotencyStatus.IN_FLIGHT, at(61), "flow-1", "a"
    )
    # When the current holder records SENT
    # Then it is recorded on the step and its key together
    assert _record(backend, flow, token="new", status=StepStatus.SENT, now=at(33)) is True
    step = backend.flows.get("flow-1").steps[0]
    assert (step.status, step.sent_at, step.last_status, step.last_error) == (
        StepStatus.SENT,
        at(33),
        200,
        None,
    )
    assert backend.flows.idempotency(KEY_A) == IdempotencyState(
        IdempotencyStatus.SENT, None, "flow-1", "a"
    )
    # And the same lease cannot record twice
    assert _record(backend, flow, token="new", status=StepStatus.FAILED, now=at(34)) is False


def test_a_failed_attempt_releases_the_key(backend: Adapters) -> None:
    # Given a claimed step
    flow = _started(backend)
    assert _claim(backend, flow, now=T0, token="lease-1")
    # When its attempt records FAILED
    assert _record(backend, flow, token="lease-1", status=StepStatus.FAILED, now=at(1))
    # Then the step failed and its key is gone
    assert backend.flows.get("flow-1").steps[0].status is StepStatus.FAILED
    assert backend.flows.idempotency(KEY_A) is None


# --- advancing the flow ---------------------------------------------------------------------


def test_advance_applies_the_steps_token_once(backend: Adapters) -> None:
    # Given a flow whose first step (t0 -> t1) was sent
    flow = _started(backend)
    _sent(backend, flow, now=T0)
    # When the flow advances past it
    assert backend.flows.advance(flow, 0, run=1, now=at(1)) is True
    # Then it holds t1 and is through step 0
    after = backend.flows.get("flow-1")
    assert (after.state_token, after.advanced_through) == ("t1", 0)
    # When the app sets t0 again and the advance is repeated (a duplicate timer)
    backend.flows.set_state("flow-1", "t0", expect="t1", now=at(2))
    again = backend.flows.advance(flow, 0, run=1, now=at(3))
    # Then the repeat is refused and does not apply the token a second time
    assert again is False
    final = backend.flows.get("flow-1")
    assert (final.state_token, final.advanced_through) == ("t0", 0)


def test_advance_keeps_a_token_the_app_moved_on(backend: Adapters) -> None:
    # Given a sent first step, and an app that moved the token on before the flow advanced
    flow = _started(backend)
    _sent(backend, flow, now=T0)
    backend.flows.set_state("flow-1", "app-moved", expect="t0", now=at(1))
    # When the flow advances past the step
    advanced = backend.flows.advance(flow, 0, run=1, now=at(2))
    # Then it advances, but keeps the app's token
    assert advanced is True
    after = backend.flows.get("flow-1")
    assert (after.state_token, after.advanced_through) == ("app-moved", 0)


def test_advance_of_another_run_is_refused(backend: Adapters) -> None:
    # Given a sent first step of run 1
    flow = _started(backend)
    _sent(backend, flow, now=T0)
    # When the flow is advanced for run 2
    # Then nothing moves
    assert backend.flows.advance(flow, 0, run=2, now=at(1)) is False
    after = backend.flows.get("flow-1")
    assert (after.state_token, after.advanced_through) == ("t0", -1)


def test_a_flow_moves_through_its_steps_in_order(backend: Adapters) -> None:
    # Given a running flow
    flow = _started(backend)
    # When step a is sent and advanced, then step b
    _sent(backend, flow, 0, now=T0)
    assert backend.flows.advance(flow, 0, run=1, now=at(1))
    assert _claim(backend, flow, 0, now=at(2), token="again") is False  # key a was SENT
    _sent(backend, flow, 1, now=at(3))
    assert backend.flows.advance(flow, 1, run=1, now=at(4))
    # Then the flow holds the last step's token, through both steps, both SENT
    after = backend.flows.get("flow-1")
    assert (after.state_token, after.advanced_through) == ("t2", 1)
    assert [s.status for s in after.steps] == [StepStatus.SENT, StepStatus.SENT]
    assert after.first_unsent() is None


# --- state token, status, restart -----------------------------------------------------------


def test_set_state_compares_and_sets_the_token(backend: Adapters) -> None:
    # Given a flow on t0
    _started(backend)
    # When the token is set expecting t0, then without expectation
    backend.flows.set_state("flow-1", "t1", expect="t0", now=at(1))
    backend.flows.set_state("flow-1", "t5", expect=None, now=at(2))
    assert backend.flows.get("flow-1").state_token == "t5"
    # When it is set expecting a token it no longer holds
    with pytest.raises(ConflictError) as conflict:
        backend.flows.set_state("flow-1", "t9", expect="t1", now=at(3))
    # Then the conflict names the current token, which stays
    assert conflict.value.current == {"stateToken": "t5"}
    assert backend.flows.get("flow-1").state_token == "t5"
    # And each successful set is in the flow's ledger
    assert [e.kind for e in backend.flows.get("flow-1").events] == [
        "STARTED",
        "STATE_SET",
        "STATE_SET",
    ]


@pytest.mark.parametrize("expect", [None, "t0"])
def test_set_state_of_an_unknown_flow_is_not_found(backend: Adapters, expect: str | None) -> None:
    # Given no flows
    # When a token is set on an unknown flow
    # Then NotFoundError, and no flow appears
    with pytest.raises(NotFoundError):
        backend.flows.set_state("nope", "t1", expect=expect, now=T0)
    assert backend.flows.find("nope") is None


def test_set_status_moves_only_a_running_flow_of_that_run(backend: Adapters) -> None:
    # Given a running flow in run 1
    _started(backend)
    # When it is halted for another run
    # Then nothing changes
    assert backend.flows.set_status("flow-1", FlowStatus.HALTED, reason="x", run=2, now=T0) is False
    assert backend.flows.get("flow-1").status is FlowStatus.RUNNING
    # When it is halted for its run
    halted = backend.flows.set_status(
        "flow-1", FlowStatus.HALTED, reason="stale_state", run=1, now=at(1)
    )
    # Then it is halted with the reason
    assert halted is True
    flow = backend.flows.get("flow-1")
    assert (flow.status, flow.reason) == (FlowStatus.HALTED, "stale_state")
    # And a run-bound change of a halted flow is refused
    assert (
        backend.flows.set_status("flow-1", FlowStatus.COMPLETED, reason=None, run=1, now=at(2))
        is False
    )


def test_a_cancel_moves_a_halted_flow_but_not_a_finished_one(backend: Adapters) -> None:
    # Given a halted flow and a completed one
    _started(backend)
    backend.flows.set_status("flow-1", FlowStatus.HALTED, reason="disabled", run=1, now=T0)
    _started(backend, "flow-2")
    backend.flows.set_status("flow-2", FlowStatus.COMPLETED, reason=None, run=1, now=T0)
    # When both are cancelled (any run)
    cancel_halted = backend.flows.set_status(
        "flow-1", FlowStatus.CANCELED, reason="user", run=None, now=at(1)
    )
    cancel_completed = backend.flows.set_status(
        "flow-2", FlowStatus.CANCELED, reason="user", run=None, now=at(1)
    )
    # Then only the halted one is cancelled
    assert (cancel_halted, cancel_completed) == (True, False)
    assert backend.flows.get("flow-1").status is FlowStatus.CANCELED
    completed = backend.flows.get("flow-2")
    assert (completed.status, completed.reason) == (FlowStatus.COMPLETED, None)
    # And an unknown flow cannot be moved
    assert backend.flows.set_status("nope", FlowStatus.CANCELED, reason=None, run=None, now=T0) is (
        False
    )


def test_restart_starts_a_new_run_of_a_halted_flow_once(backend: Adapters) -> None:
    # Given a halted flow in run 1
    _started(backend)
    backend.flows.set_status("flow-1", FlowStatus.HALTED, reason="stale_state", run=1, now=T0)
    halted = backend.flows.get("flow-1")
    # When it is restarted
    run = backend.flows.restart(halted, now=at(1))
    # Then it runs again in run 2, without a reason
    assert run == 2
    flow = backend.flows.get("flow-1")
    assert (flow.status, flow.run, flow.reason) == (FlowStatus.RUNNING, 2, None)
    assert flow.events[-1].kind == "RESUMED"
    # When the same (now stale) read is restarted again
    # Then it is a conflict and the run stays
    with pytest.raises(ConflictError):
        backend.flows.restart(halted, now=at(2))
    with pytest.raises(ConflictError):
        backend.flows.restart(flow, now=at(2))  # running: nothing to restart
    assert backend.flows.get("flow-1").run == 2


def test_a_restarted_run_can_claim_its_unsent_step_again(backend: Adapters) -> None:
    # Given a flow halted in run 1 after its first step failed (the key released)
    flow = _started(backend)
    assert _claim(backend, flow, now=T0, token="lease-1")
    assert _record(backend, flow, token="lease-1", status=StepStatus.FAILED, now=at(1))
    backend.flows.set_status("flow-1", FlowStatus.HALTED, reason="failed", run=1, now=at(1))
    # When it is restarted and step a claimed in run 2
    run = backend.flows.restart(backend.flows.get("flow-1"), now=at(2))
    restarted = backend.flows.get("flow-1")
    # Then run 1 claims lose and the run 2 claim wins
    assert _claim(backend, restarted, now=at(3), token="stale", run=1) is False
    assert _claim(backend, restarted, now=at(3), token="lease-2", run=run) is True
    step = backend.flows.get("flow-1").steps[0]
    assert (step.status, step.run, step.attempts) == (StepStatus.IN_FLIGHT, 2, 2)


# --- arming and marking steps ---------------------------------------------------------------


def test_a_step_is_armed_once_per_run_and_never_once_sent(backend: Adapters) -> None:
    # Given a running flow
    flow = _started(backend)
    # When step a is armed twice in run 1
    first = backend.flows.arm_step("flow-1", 0, run=1, due_at=at(60), now=T0)
    second = backend.flows.arm_step("flow-1", 0, run=1, due_at=at(90), now=at(1))
    # Then only the first arms it, with its due time
    assert (first, second) == (True, False)
    step = backend.flows.get("flow-1").steps[0]
    assert (step.status, step.due_at, step.armed_at, step.run) == (
        StepStatus.ARMED,
        at(60),
        T0,
        1,
    )
    # And a later run may arm it again while it is not sent
    assert backend.flows.arm_step("flow-1", 0, run=2, due_at=at(120), now=at(2)) is True
    assert backend.flows.get("flow-1").steps[0].run == 2
    # But once sent it is never armed again
    _sent(backend, flow, 0, now=at(3))
    assert backend.flows.arm_step("flow-1", 0, run=3, due_at=at(200), now=at(4)) is False
    assert backend.flows.get("flow-1").steps[0].status is StepStatus.SENT
    # And an unknown step cannot be armed
    assert backend.flows.arm_step("nope", 0, run=1, due_at=at(60), now=T0) is False


def test_mark_step_records_why_a_step_sent_nothing_but_not_over_a_sent_one(
    backend: Adapters,
) -> None:
    # Given a flow whose step a was sent and step b is armed
    flow = _started(backend)
    _sent(backend, flow, 0, now=T0)
    backend.flows.arm_step("flow-1", 1, run=1, due_at=at(60), now=T0)
    # When step b is marked skipped
    backend.flows.mark_step("flow-1", 1, status=StepStatus.SKIPPED, reason="disabled", now=at(1))
    # Then it is skipped with the reason
    step = backend.flows.get("flow-1").steps[1]
    assert (step.status, step.reason) == (StepStatus.SKIPPED, "disabled")
    # When the sent step a is marked
    # Then it is refused and stays sent
    with pytest.raises(ConditionFailedError):
        backend.flows.mark_step("flow-1", 0, status=StepStatus.CANCELED, reason="user", now=at(2))
    assert backend.flows.get("flow-1").steps[0].status is StepStatus.SENT
