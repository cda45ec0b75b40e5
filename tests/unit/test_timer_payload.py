"""The JSON body every timer carries into the delivery queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain.errors import ValidationError
from functions.domain.timers import TimerPayload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
IDS = st.text(min_size=1, max_size=60)
KINDS = st.sampled_from(["message", "flow-step"]) | st.text(max_size=20)


def test_to_json_uses_qstash_style_milliseconds() -> None:
    payload = TimerPayload("msg_1", datetime(2024, 1, 1, tzinfo=UTC))
    assert json.loads(payload.to_json()) == {
        "kind": "message",
        "id": "msg_1",
        "dueAt": 1_704_067_200_000,
    }


def test_from_json_defaults_kind_to_message_and_gives_utc() -> None:
    payload = TimerPayload.from_json('{"id": "msg_1", "dueAt": 1704067200500}')
    assert payload == TimerPayload("msg_1", datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC))
    assert payload.due_at.tzinfo is UTC


@given(target_id=IDS, kind=KINDS, seconds=st.integers(0, 4_102_444_800))
def test_round_trip_of_whole_second_times(target_id: str, kind: str, seconds: int) -> None:
    payload = TimerPayload(target_id, EPOCH + timedelta(seconds=seconds), kind=kind)
    assert TimerPayload.from_json(payload.to_json()) == payload


@given(target_id=IDS, ms=st.integers(946_684_800_000, 4_102_444_800_000))
@example(target_id="msg_1", ms=1_093_284_969_616)
def test_round_trip_of_millisecond_times(target_id: str, ms: int) -> None:
    payload = TimerPayload(target_id, EPOCH + timedelta(milliseconds=ms))
    assert TimerPayload.from_json(payload.to_json()) == payload


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "{}",
        '{"id": "msg_1"}',
        '{"dueAt": 1704067200000}',
        '{"id": "msg_1", "dueAt": "soon"}',
        "[]",
        "null",
        "42",
    ],
)
def test_malformed_payload_is_a_validation_error(body: str) -> None:
    with pytest.raises(ValidationError, match="timer payload is malformed"):
        TimerPayload.from_json(body)


@pytest.mark.parametrize(
    "body", ['{"id": "msg_1", "dueAt": 1e400}', '{"id": "msg_1", "dueAt": 1e20}']
)
def test_out_of_range_due_time_is_a_validation_error(body: str) -> None:
    with pytest.raises(ValidationError, match="timer payload is malformed"):
        TimerPayload.from_json(body)
