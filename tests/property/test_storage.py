"""Accepted requests can always be recorded, on both backends (DynamoDB on moto and SQLite):
a publish the parser accepts is stored as it was parsed and an attempt's outcome, with its
callbacks, is recorded on it; an accepted schedule is stored, read back and fires; an accepted
flow is stored and read back with the same definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from functions.domain.callbacks import callback_message, callbacks_due
from functions.domain.errors import PayloadTooLargeError, ValidationError
from functions.domain.flows import parse_flow
from functions.domain.messages import Message, MessageState
from functions.domain.outcomes import AttemptResult, decide
from functions.domain.publish import Headers, PublishLimits, dedup_key, parse_publish
from functions.domain.retry import validate_retry_delay
from functions.domain.schedules import advance, fire_message, parse_schedule
from functions.ports import DedupClaim
from tests.property.conftest import EXAMPLES, Backend
from tests.property.strategies import (
    cron_texts,
    flow_bodies,
    forwarded_headers,
    good_urls,
    header_values,
    mostly,
    publish_header_options,
    unicode_chars,
    valid_cron_texts,
    valid_flow_bodies,
    valid_forwarded_headers,
    valid_publish_headers,
)
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples

pytestmark = QUIET_SYNTAX_WARNINGS

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LIMITS = PublishLimits(max_body_bytes=262_144, default_retries=3)
LEASE = timedelta(seconds=60)

publish_requests = st.tuples(
    good_urls,
    mostly(
        valid_publish_headers(not_before_base=int(NOW.timestamp())),
        publish_header_options(not_before_base=int(NOW.timestamp())),
    ),
    mostly(valid_forwarded_headers, forwarded_headers),
    st.binary(max_size=64) | st.integers(0, 2_000).map(lambda n: b"\x00\xff" * n),
)
attempt_results = st.builds(
    AttemptResult,
    status=st.sampled_from([None, 200, 204, 302, 400, 404, 429, 489, 500, 503]),
    headers=st.dictionaries(
        st.one_of(
            st.sampled_from(["retry-after", "upstash-nonretryable-error", "x-ratelimit-reset"]),
            st.text(unicode_chars, min_size=1, max_size=200),
        ),
        st.one_of(st.sampled_from(["true", "5", "0"]), header_values),
        max_size=6,
    ),
    body=st.one_of(
        st.text(unicode_chars, max_size=40),
        st.integers(0, 6000).map(lambda n: "é" * n),
    ),
    error=st.none() | st.text(unicode_chars, max_size=20) | st.just("e" * 700),
)


def _stored_fields(message: Message) -> tuple[Any, ...]:
    """What publish decided about a message, which storage must keep exactly."""
    return (
        message.message_id,
        message.url,
        message.method,
        message.headers,
        message.body,
        message.due_at,
        message.created_at,
        message.max_retries,
        message.retry_delay,
        message.timeout_seconds,
        message.callback,
        message.failure_callback,
        message.schedule_id,
        message.label,
        message.options,
    )


def _accept(destination: str, headers: dict[str, str], body: bytes) -> Message | None:
    """What MessageService.publish checks before it stores anything; None when refused."""
    try:
        message = parse_publish(
            destination=destination, headers=headers, body=body, now=NOW, limits=LIMITS
        )
        if message.retry_delay is not None:
            validate_retry_delay(message.retry_delay)
    except (ValidationError, PayloadTooLargeError) as refused:
        event(f"refused: {type(refused).__name__}")
        return None
    event("accepted")
    return message


def _publish_recorded(
    backend: Backend,
    publish: tuple[str, dict[str, str], dict[str, str], bytes],
    result: AttemptResult,
) -> None:
    destination, options, forwarded, body = publish
    headers = {**options, **forwarded}
    message = _accept(destination, headers, body)
    if message is None:
        return
    with backend.fresh() as kit:
        store = kit.adapters.messages
        key = dedup_key(Headers(headers), message)
        claim = DedupClaim(key, NOW, timedelta(minutes=10)) if key else None
        # Stored as parsed, with its CREATED event, and waiting for a timer
        store.create(message, dedup=claim)
        stored = store.get(message.message_id)
        assert _stored_fields(stored) == _stored_fields(message)
        assert stored.state is MessageState.CREATED
        assert stored.events[0].state.value == "CREATED"
        # An attempt at its due time is claimed and its outcome recorded, callbacks too
        at = message.due_at
        claimed = store.claim(
            message.message_id, now=at, lease=LEASE, lease_token="lease", early=timedelta(0)
        )
        decision = decide(claimed, result, now=at + timedelta(seconds=1))
        failed = decision.state is MessageState.FAILED
        follow_ups = tuple(
            callback_message(
                claimed,
                result,
                due,
                now=at,
                dlq_id=claimed.message_id if failed else None,
                default_retries=claimed.max_retries,
                default_timeout=claimed.timeout_seconds,
            )
            for due in callbacks_due(claimed, failed=failed)
        )
        store.record(
            message.message_id,
            lease_token="lease",
            state=decision.state,
            event=decision.event,
            retried=decision.retried,
            next_due=decision.next_due,
            follow_ups=follow_ups,
        )
        after = store.get(message.message_id)
        assert after.state is decision.state
        assert after.retried == decision.retried
        assert after.events[-1] == decision.event
        assert len(after.events) == 2
        if decision.next_due is not None:
            assert after.due_at == decision.next_due
        # (whether it then waits for a timer is test_delivery's property, on both backends)
        for follow_up in follow_ups:
            assert _stored_fields(store.get(follow_up.message_id)) == _stored_fields(follow_up)


@examples(EXAMPLES["aws"])
@given(publish_requests, attempt_results)
def test_an_accepted_publish_is_stored_and_an_attempt_recorded_on_aws(
    aws: Backend, publish: tuple[str, dict[str, str], dict[str, str], bytes], result: AttemptResult
) -> None:
    _publish_recorded(aws, publish, result)


@examples(EXAMPLES["sqlite"])
@given(publish_requests, attempt_results)
def test_an_accepted_publish_is_stored_and_an_attempt_recorded_on_sqlite(
    sqlite: Backend,
    publish: tuple[str, dict[str, str], dict[str, str], bytes],
    result: AttemptResult,
) -> None:
    _publish_recorded(sqlite, publish, result)


schedule_requests = st.tuples(
    st.none() | st.from_regex(r"[A-Za-z0-9_.-]{1,48}", fullmatch=True),
    mostly(valid_cron_texts, cron_texts),
    st.none() | st.integers(0, 86400).map(lambda s: f"{s}s"),
    good_urls,
    mostly(valid_forwarded_headers, forwarded_headers),
)


def _schedule_stored(
    backend: Backend, spec: tuple[str | None, str, str | None, str, dict[str, str]]
) -> None:
    schedule_id, cron, delay, destination, forwarded = spec
    headers = {"Upstash-Cron": cron, **forwarded}
    if delay is not None:
        headers["Upstash-Delay"] = delay
    try:
        schedule = parse_schedule(
            schedule_id=schedule_id,
            destination=destination,
            headers=headers,
            body=b"{}",
            now=NOW,
            limits=LIMITS,
        )
    except ValidationError:
        event("refused")
        return
    event("accepted")
    assert schedule.next_fire is not None
    with backend.fresh() as kit:
        store = kit.adapters.schedules
        assert store.upsert(schedule) is None
        found = store.get(schedule.schedule_id)
        # (a delay of 0s is kept as no delay: the same fire times)
        assert (found.cron, found.delay or timedelta(0), found.next_fire, found.paused) == (
            schedule.cron,
            schedule.delay or timedelta(0),
            schedule.next_fire,
            False,
        )
        # The template keeps everything but its id and times, which each fire sets
        kept, parsed = _stored_fields(found.template), _stored_fields(schedule.template)
        assert kept[1:5] + kept[7:] == parsed[1:5] + parsed[7:]
        # Its first fire creates its message and advances the chain, both or neither
        fired_at = schedule.next_fire
        message = fire_message(found, fired_at, now=fired_at)
        step = advance(found, fired_at, now=fired_at)
        assert store.fire(
            found,
            fired_at=fired_at,
            messages=(message,),
            next_fire=step.next_fire,
            missed=step.missed,
            now=fired_at,
        )
        assert store.get(schedule.schedule_id).next_fire == step.next_fire
        sent = kit.adapters.messages.get(message.message_id)
        assert sent.schedule_id == schedule.schedule_id
        assert sent.due_at == fired_at + (schedule.delay or timedelta(0))


@examples(EXAMPLES["aws-more"])
@given(schedule_requests)
def test_an_accepted_schedule_is_stored_read_back_and_fires_on_aws(
    aws: Backend, spec: tuple[str | None, str, str | None, str, dict[str, str]]
) -> None:
    _schedule_stored(aws, spec)


@examples(EXAMPLES["sqlite-more"])
@given(schedule_requests)
def test_an_accepted_schedule_is_stored_read_back_and_fires_on_sqlite(
    sqlite: Backend, spec: tuple[str | None, str, str | None, str, dict[str, str]]
) -> None:
    _schedule_stored(sqlite, spec)


flow_requests = st.tuples(
    st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True),
    mostly(valid_flow_bodies(), flow_bodies),
)


def _flow_stored(backend: Backend, flow: tuple[str, dict[str, Any] | None]) -> None:
    flow_id, body = flow
    try:
        definition = parse_flow(flow_id, body, default_retries=3)
    except (ValidationError, PayloadTooLargeError):
        event("refused")
        return
    event("accepted")
    with backend.fresh() as kit:
        kit.adapters.flows.create(definition, now=NOW)
        found = kit.adapters.flows.get(flow_id)
        assert found.definition == definition
        assert found.state_token == definition.state_token
        assert [s.step_id for s in found.steps] == [s.step_id for s in definition.steps]


@examples(EXAMPLES["aws-more"])
@given(flow_requests)
def test_an_accepted_flow_is_stored_and_read_back_unchanged_on_aws(
    aws: Backend, flow: tuple[str, dict[str, Any] | None]
) -> None:
    _flow_stored(aws, flow)


@examples(EXAMPLES["sqlite-more"])
@given(flow_requests)
def test_an_accepted_flow_is_stored_and_read_back_unchanged_on_sqlite(
    sqlite: Backend, flow: tuple[str, dict[str, Any] | None]
) -> None:
    _flow_stored(sqlite, flow)
