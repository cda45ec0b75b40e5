"""Flow definitions (the JSON body of `POST /v2/flows/{flowId}`): a definition or a 400/413
whose message names the field by its path (`steps[1].idempotencyKey ...`); an accepted
step survives its JSON form (how both backends store it) unchanged."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from functions.domain.errors import PayloadTooLargeError, ValidationError
from functions.domain.flows import (
    MAX_IDEMPOTENCY_KEY_BYTES,
    FlowDefinition,
    StepDefinition,
    parse_flow,
)
from functions.domain.forwarding import writable
from tests.property.strategies import (
    flow_bodies,
    flow_bodies_one_field_off,
    flow_ids,
    good_urls,
    mostly,
    valid_flow_bodies,
)
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples, value_or_named_error

pytestmark = QUIET_SYNTAX_WARNINGS

NAMES_A_FIELD = re.compile(r"^(body\b|steps\[\d+\]|flowId\b|step ids\b|the steps')")


def _step(**fields: Any) -> dict[str, Any]:
    return {"id": "s1", "destination": "https://example.com/a", **fields}


@examples(80)
@given(
    flow_ids,
    st.one_of(flow_bodies, valid_flow_bodies(), flow_bodies_one_field_off().map(lambda b: b[0])),
)
# Each raised UnicodeEncodeError (a 500) before the fix in flows.py: JSON may escape a lone
# surrogate, and the key's byte length, the body's bytes or the header check encoded it.
@example("f", {"stateToken": "s", "steps": [_step(idempotencyKey="\ud800")]})
@example("f", {"stateToken": "s", "steps": [_step(body="a\udc00")]})
@example("f", {"stateToken": "s", "steps": [_step(headers={"x-a": "\ud800"})]})
@example("f", {"stateToken": "s", "steps": [_step(destination="https://e.com/\ud800")]})
# Stored on SQLite before the fix; on DynamoDB the write failed and was answered 409 "flow f
# already exists" (adapters/aws/flows.py maps any failed transaction to that).
@example("f", {"stateToken": "\ud800", "steps": [_step()]})
def test_a_flow_is_a_definition_or_a_4xx_naming_the_field(
    flow_id: str, body: dict[str, Any] | None
) -> None:
    parsed = value_or_named_error(
        lambda: parse_flow(flow_id, body, default_retries=3),
        errors=(ValidationError, PayloadTooLargeError),
        names=NAMES_A_FIELD,
    )
    event(f"outcome: {type(parsed).__name__}")
    if not isinstance(parsed, FlowDefinition):
        return
    assert parsed.flow_id == flow_id
    assert parsed.steps
    assert len({s.step_id for s in parsed.steps}) == len(parsed.steps)
    for step in parsed.steps:
        # Every text a step stores is valid Unicode, and every header can be written.
        texts = [step.destination, step.expect_state_token, step.idempotency_key]
        texts += [step.set_state_token or "", step.retry_delay or ""]
        for text in [*texts, *step.headers, *step.headers.values()]:
            text.encode()  # raises on a lone surrogate
        assert all(writable(k, v) for k, v in step.headers.items())
        assert len(step.idempotency_key.encode()) <= MAX_IDEMPOTENCY_KEY_BYTES or (
            step.idempotency_key == f"{flow_id}:{step.step_id}"
        )


@examples(50)
@given(flow_bodies_one_field_off())
def test_a_flow_with_one_field_off_is_refused_naming_exactly_that_field(
    body_and_field: tuple[dict[str, Any], str],
) -> None:
    body, field = body_and_field
    index = field.partition("]")[0] + "]" if field.startswith("steps[") else field
    outcome = value_or_named_error(
        lambda: parse_flow("f", body, default_retries=3),
        errors=(ValidationError, PayloadTooLargeError),
        # the field itself; for a step id, the uniqueness rule may be what it breaks; for a
        # header, its name is in the path; a value too large makes the definition a 413
        names=(field, f"{index}.id", "step ids must be unique", "the steps'"),
    )
    event(f"outcome: {type(outcome).__name__}")


@examples(30)
@given(flow_ids, mostly(valid_flow_bodies(), flow_bodies))
def test_an_accepted_step_survives_its_json_form(flow_id: str, body: dict[str, Any] | None) -> None:
    try:
        parsed = parse_flow(flow_id, body, default_retries=3)
    except (ValidationError, PayloadTooLargeError):
        return
    for step in parsed.steps:
        assert StepDefinition.from_json(step.to_json()) == step


@examples(30)
@given(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=200).filter(lambda s: s.strip()),
    st.integers(1, 4),
)
def test_an_idempotency_key_is_kept_up_to_512_bytes_and_refused_beyond_naming_it(
    unit: str, repeat: int
) -> None:
    key = unit * repeat
    parsed = value_or_named_error(
        lambda: parse_flow(
            "f", {"stateToken": "s", "steps": [_step(idempotencyKey=key)]}, default_retries=3
        ),
        errors=(ValidationError,),
        names="steps[0].idempotencyKey",
    )
    size = len(key.encode())
    if isinstance(parsed, FlowDefinition):
        assert size <= MAX_IDEMPOTENCY_KEY_BYTES
        assert parsed.steps[0].idempotency_key == key
    else:
        assert size > MAX_IDEMPOTENCY_KEY_BYTES
        assert f"{size} bytes" in str(parsed)


@examples(15)
@given(st.lists(good_urls, min_size=1, max_size=4), st.integers(0, 300_000))
def test_a_definition_over_the_size_limit_is_a_413(urls: list[str], body_size: int) -> None:
    steps = [_step(id=f"s{n}", destination=u) for n, u in enumerate(urls)]
    steps[0]["body"] = "b" * body_size
    outcome = value_or_named_error(
        lambda: parse_flow("f", {"stateToken": "s", "steps": steps}, default_retries=3),
        errors=(PayloadTooLargeError,),
        names="the steps' destinations, headers and bodies",
    )
    stored = body_size + sum(len(u.encode()) for u in urls)  # a string body: no header added
    assert isinstance(outcome, PayloadTooLargeError) == (stored > 256 * 1024)
