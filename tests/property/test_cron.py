"""Cron: `Upstash-Cron` with an optional `CRON_TZ=` prefix, and `POST /v2/schedules`. A spec
or a 400 naming `Upstash-Cron`; a spec prints and parses back to itself; its fire times are
aware UTC, after the given instant, strictly increasing, and agree with `fires_between`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from functions.domain.cron import CronSpec
from functions.domain.errors import DuetimeError, PayloadTooLargeError, ValidationError
from functions.domain.publish import PublishLimits
from functions.domain.schedules import Schedule, parse_schedule
from tests.property.strategies import cron_texts, durations, good_urls, unicode_chars
from tests.property.support import QUIET_SYNTAX_WARNINGS, examples, value_or_named_error

pytestmark = QUIET_SYNTAX_WARNINGS

instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds of a naive range, given a zone below
    max_value=datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@examples(60)
@given(cron_texts)
def test_a_cron_is_a_spec_or_a_400_naming_upstash_cron(text: str) -> None:
    spec = value_or_named_error(
        lambda: CronSpec.parse(text), errors=(ValidationError,), names="Upstash-Cron"
    )
    if isinstance(spec, CronSpec):
        assert len(spec.expression.split()) == 5
        # A spec that can never fire is refused, so an accepted one has a next fire time.
        assert spec.next_after(datetime(2030, 1, 1, tzinfo=UTC)).tzinfo is not None


@examples(40)
@given(cron_texts)
def test_a_parsed_cron_prints_and_parses_back_to_itself(text: str) -> None:
    try:
        spec = CronSpec.parse(text)
    except ValidationError:
        return
    assert CronSpec.parse(str(spec)) == spec


@examples(30)
@given(cron_texts, instants)
def test_fire_times_are_aware_utc_strictly_after_and_increasing(text: str, after: datetime) -> None:
    try:
        spec = CronSpec.parse(text)
    except ValidationError:
        return
    chain = []
    t = after
    for _ in range(4):
        try:
            t = spec.next_after(t)
        except ValidationError:  # croniter found no later fire (a leap-day rule near 2099)
            break
        chain.append(t)
    assert all(f.utcoffset() == timedelta(0) for f in chain)
    assert all(a < b for a, b in zip([after, *chain], chain, strict=False))
    if chain:
        # fires_between(after, last) is exactly the chain: nothing skipped, nothing twice
        assert spec.fires_between(after, chain[-1]) == chain


@examples(30)
@given(
    st.one_of(
        st.none(),
        st.from_regex(r"[A-Za-z0-9_.-]{1,48}", fullmatch=True),
        st.text(unicode_chars, max_size=50),
    ),
    cron_texts,
    st.none() | durations,
    good_urls,
)
def test_a_schedule_is_parsed_or_a_400_naming_its_header(
    schedule_id: str | None, cron: str, delay: str | None, destination: str
) -> None:
    headers = {"Upstash-Cron": cron}
    if delay is not None:
        headers["Upstash-Delay"] = delay
    now = datetime(2030, 1, 1, tzinfo=UTC)
    schedule = value_or_named_error(
        lambda: parse_schedule(
            schedule_id=schedule_id,
            destination=destination,
            headers=headers,
            body=b"{}",
            now=now,
            limits=PublishLimits(max_body_bytes=1024),
        ),
        errors=(ValidationError, PayloadTooLargeError),
        names=("Upstash-Cron", "Upstash-Schedule-Id", "Upstash-Delay"),
    )
    if isinstance(schedule, DuetimeError):
        return
    assert isinstance(schedule, Schedule)
    assert schedule.next_fire is not None
    assert schedule.next_fire > now
    assert schedule.cron == CronSpec.parse(cron)
