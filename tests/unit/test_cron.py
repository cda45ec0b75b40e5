"""CronSpec: parsing `Upstash-Cron`, and fire times across daylight-saving changes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.cron import CronSpec
from functions.domain.errors import ValidationError

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)

EXPRESSIONS = (
    "*/30 9-17 * * 1-5",
    "0 9 * * *",
    "30 2 * * *",
    "30 1 * * *",
    "*/20 * * * *",
    "15,45 0-3 * * *",
    "0 0 * * *",
    "45 23 * * 0",
    "0 */6 * * *",
    "5-10 1,2 * * *",
    "*/7 2 * * *",
    "0 12 1,15 * mon",
)
# Lord_Howe moves by 30 minutes, Santiago and Havana change at midnight, Chatham is +12:45.
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Chatham",
    "Asia/Kolkata",
)


def _transitions_2026(name: str) -> list[datetime]:
    """The instants of 2026 (UTC, to the minute) at which the zone's offset changes."""
    zone, hour = ZoneInfo(name), timedelta(hours=1)
    t, found = datetime(2026, 1, 1, tzinfo=UTC), []
    while t.year == 2026:
        if t.astimezone(zone).utcoffset() != (t + hour).astimezone(zone).utcoffset():
            change = t + MINUTE
            while change.astimezone(zone).utcoffset() == t.astimezone(zone).utcoffset():
                change += MINUTE
            found.append(change)
        t += hour
    return found


TRANSITIONS = {name: _transitions_2026(name) for name in ZONES}
ZONE_INFOS = [ZoneInfo(name) for name in ZONES]

anywhere_2026 = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from(ZONE_INFOS),
)


@st.composite
def schedules(draw: st.DrawFn) -> tuple[CronSpec, datetime]:
    """A spec from the pool, and a start time that is often just around one of its changes."""
    spec = CronSpec(draw(st.sampled_from(EXPRESSIONS)), draw(st.sampled_from(ZONES)))
    changes = TRANSITIONS[spec.zone]
    if not changes or draw(st.booleans()):
        return spec, draw(anywhere_2026)
    minutes = draw(st.one_of(st.integers(-5, 65), st.integers(-3 * 1440, 3 * 1440)))
    seconds = draw(st.sampled_from([0, 0, 1, 30, 59.999]))
    return spec, draw(st.sampled_from(changes)) + timedelta(minutes=minutes, seconds=seconds)


def _local_day(zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """(start, end] bounds in UTC that cover exactly the local calendar day."""
    start = datetime.combine(day, time(), zone).astimezone(UTC) - SECOND
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC) - SECOND
    return start, end


def _brute_force(spec: CronSpec, start: datetime, end: datetime) -> list[datetime]:
    """The documented rule, minute by minute: every matching wall time, fold=0, each once."""
    zone, (fields, _) = ZoneInfo(spec.zone), croniter.expand(spec.expression)
    either_day = fields[2] != ["*"] and fields[4] != ["*"]
    wall = start.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=1)
    stop = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    found = set()
    while wall <= stop:
        values = (wall.minute, wall.hour, wall.day, wall.month, wall.isoweekday() % 7)
        ok = [f == ["*"] or v in f for f, v in zip(fields, values, strict=True)]
        day_ok = (ok[2] or ok[4]) if either_day else (ok[2] and ok[4])
        if ok[0] and ok[1] and ok[3] and day_ok:
            instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            if start < instant <= end:
                found.add(instant)
        wall += MINUTE
    return sorted(found)


# --- Daylight saving: the documented rule, case by case -----------------------------------


@pytest.mark.parametrize(
    ("zone", "monday", "before", "after"),
    [
        (BERLIN, date(2026, 3, 23), 1, 2),
        (BERLIN, date(2026, 10, 19), 2, 1),
        (NY, date(2026, 3, 2), -5, -4),
        (NY, date(2026, 10, 26), -4, -5),
    ],
)
def test_office_hours_job_keeps_local_hours_across_the_change_week(
    zone: ZoneInfo, monday: date, before: int, after: int
) -> None:
    # Given an every-30-minutes office-hours job, and the two weeks around a clock change
    spec = CronSpec.parse(f"CRON_TZ={zone.key} */30 9-17 * * 1-5")
    start, _ = _local_day(zone, monday)
    _, end = _local_day(zone, monday + timedelta(days=13))
    change = monday + timedelta(days=6)  # the Sunday the clocks change

    # When its fire times are listed
    fires = spec.fires_between(start, end)

    # Then it fires 18 times (09:00..17:30) on each of the 10 weekdays, at local office hours,
    # with the UTC offset of the side of the change the day is on
    local = [t.astimezone(zone) for t in fires]
    per_day = Counter(t.date() for t in local)
    assert sorted(per_day) == [monday + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]
    assert set(per_day.values()) == {18}
    assert all(time(9) <= t.time() <= time(17, 30) and t.minute in (0, 30) for t in local)
    for t in local:
        expected = before if t.date() < change else after
        assert t.utcoffset() == timedelta(hours=expected)


@pytest.mark.parametrize(
    ("first_day", "change", "utc_hour_before", "utc_hour_after"),
    [(date(2026, 3, 3), date(2026, 3, 8), 14, 13), (date(2026, 10, 27), date(2026, 11, 1), 13, 14)],
)
def test_daily_job_stays_at_nine_local_and_moves_in_utc(
    first_day: date, change: date, utc_hour_before: int, utc_hour_after: int
) -> None:
    # Given a 09:00 New York job
    spec = CronSpec.parse("CRON_TZ=America/New_York 0 9 * * *")

    # When listing 10 days around a clock change
    start, _ = _local_day(NY, first_day)
    _, end = _local_day(NY, first_day + timedelta(days=9))
    fires = spec.fires_between(start, end)

    # Then each day fires once at 09:00 local, whose UTC hour shifts on the change day
    assert [t.astimezone(NY).date() for t in fires] == [
        first_day + timedelta(days=d) for d in range(10)
    ]
    assert all(t.astimezone(NY).time() == time(9) for t in fires)
    assert [t.hour for t in fires] == [
        utc_hour_before if t.astimezone(NY).date() < change else utc_hour_after for t in fires
    ]


@pytest.mark.parametrize(
    ("text", "day", "utc_time"),
    [
        # 02:30 does not exist: shifted forward by the one-hour gap, to 03:30 EDT
        ("CRON_TZ=America/New_York 30 2 * * *", date(2026, 3, 8), time(7, 30)),
        # 02:30 exists once (the repeated hour is 01:00-02:00)
        ("CRON_TZ=America/New_York 30 2 * * *", date(2026, 11, 1), time(7, 30)),
        # 01:30 happens twice: the first occurrence (EDT) only
        ("CRON_TZ=America/New_York 30 1 * * *", date(2026, 11, 1), time(5, 30)),
        # Berlin: 02:30 does not exist on 29 Mar (-> 03:30 CEST), happens twice on 25 Oct
        ("CRON_TZ=Europe/Berlin 30 2 * * *", date(2026, 3, 29), time(1, 30)),
        ("CRON_TZ=Europe/Berlin 30 2 * * *", date(2026, 10, 25), time(0, 30)),
    ],
)
def test_skipped_or_repeated_wall_time_fires_exactly_once(
    text: str, day: date, utc_time: time
) -> None:
    # Given a daily job whose time is skipped or repeated on a change day
    spec = CronSpec.parse(text)
    zone = ZoneInfo(spec.zone)

    # When listing the fires of that local day
    fires = spec.fires_between(*_local_day(zone, day))

    # Then there is exactly one, at the documented instant
    assert fires == [datetime.combine(day, utc_time, UTC)]


def test_every_half_hour_skips_the_repeated_hour_when_clocks_fall_back() -> None:
    # Given an every-30-minutes job in New York
    spec = CronSpec.parse("CRON_TZ=America/New_York */30 * * * *")

    # When the clocks go back 02:00 EDT -> 01:00 EST on 1 Nov 2026
    fires = spec.fires_between(
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    )

    # Then each wall time fires once: 01:00 and 01:30 EDT, then 02:00 EST, a 90-minute UTC gap
    assert [f"{t.astimezone(NY):%H:%M%z}" for t in fires] == [
        "00:30-0400",
        "01:00-0400",
        "01:30-0400",
        "02:00-0500",
        "02:30-0500",
        "03:00-0500",
    ]
    assert fires[3] - fires[2] == timedelta(minutes=90)


def test_every_half_hour_neither_doubles_nor_skips_when_clocks_spring_forward() -> None:
    # Given an every-30-minutes job in New York
    spec = CronSpec.parse("CRON_TZ=America/New_York */30 * * * *")

    # When the clocks jump 02:00 EST -> 03:00 EDT on 8 Mar 2026
    fires = spec.fires_between(
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC), datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
    )

    # Then it fires every 30 minutes of real time (02:00/02:30 land on 03:00/03:30)
    assert [t - fires[0] for t in fires] == [timedelta(minutes=30 * i) for i in range(8)]
    assert [f"{t.astimezone(NY):%H:%M}" for t in fires[2:5]] == ["01:30", "03:00", "03:30"]


def test_next_after_from_inside_the_gap_still_finds_the_shifted_time() -> None:
    # Given a 02:30 New York job, and an instant just after the clocks jumped to 03:00 EDT
    spec = CronSpec.parse("CRON_TZ=America/New_York 30 2 * * *")
    just_after_jump = datetime(2026, 3, 8, 3, 10, tzinfo=NY)

    # When asking for the next fire; then it is that day's shifted 02:30, i.e. 03:30 EDT
    assert spec.next_after(just_after_jump) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_half_hour_gap_keeps_every_wall_time() -> None:
    # Given a job every 20 minutes on Lord Howe Island, whose clocks jump 02:00 -> 02:30
    spec = CronSpec.parse("CRON_TZ=Australia/Lord_Howe */20 * * * *")
    zone = ZoneInfo(spec.zone)

    # When listing the fires around the jump on 4 Oct 2026
    fires = spec.fires_between(
        datetime(2026, 10, 3, 15, 0, tzinfo=UTC), datetime(2026, 10, 3, 16, 0, tzinfo=UTC)
    )

    # Then 02:00 and 02:20 move 30 minutes forward and the real 02:40 still fires, in order
    assert [f"{t.astimezone(zone):%H:%M}" for t in fires] == [
        "01:40",
        "02:30",
        "02:40",
        "02:50",
        "03:00",
    ]


# --- Properties ---------------------------------------------------------------------------


@given(schedule=schedules())
def test_next_after_is_strictly_increasing_utc_and_agrees_with_fires_between(
    schedule: tuple[CronSpec, datetime],
) -> None:
    # Given any schedule and any aware start time; when stepping with next_after
    spec, t = schedule
    for _ in range(20):
        following = spec.next_after(t)
        # Then every answer is aware UTC, later than the last, and what fires_between says
        assert following.tzinfo is UTC
        assert following > t
        assert spec.fires_between(t, t + timedelta(days=400), limit=1) == [following]
        t = following


@given(schedule=schedules())
def test_fires_match_a_minute_by_minute_reading_of_the_rule(
    schedule: tuple[CronSpec, datetime],
) -> None:
    # Given any schedule and a two-day window, often starting at or inside a clock change
    spec, start = schedule
    end = start + timedelta(days=2)

    # When its fires are listed; then they are exactly the brute-force reading of the rule
    assert spec.fires_between(start, end) == _brute_force(spec, start, end)


@given(schedule=schedules(), other=st.sampled_from(ZONE_INFOS))
def test_next_after_depends_on_the_instant_not_its_zone(
    schedule: tuple[CronSpec, datetime], other: ZoneInfo
) -> None:
    # Given the same instant written in two zones; then the next fire is the same
    spec, start = schedule
    assert spec.next_after(start) == spec.next_after(start.astimezone(other))


@given(schedule=schedules())
def test_str_parses_back_to_the_same_spec(schedule: tuple[CronSpec, datetime]) -> None:
    spec, _ = schedule
    assert CronSpec.parse(str(spec)) == spec


# --- Parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("61 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 * foo *", "month"),
        ("0 0 * * 8", "day-of-week"),
        ("*/0 * * * *", "minute"),
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("0 9 * * * 2026", "5 fields"),
        ("", "empty"),
        ("   ", "empty"),
        ("CRON_TZ=America/New_York", "empty"),
        ("CRON_TZ=Mars/Olympus 0 9 * * *", "time zone"),
        ("CRON_TZ= 0 9 * * *", "time zone"),
        ("CRON_TZ=localtime 0 9 * * *", "time zone"),
        ("@reboot", "@reboot"),
        ("@every 1h", "@every"),
        ("0 0 31 2 *", "never fires"),
        # croniter extensions are not Unix cron; R would even pick a random minute
        ("R * * * *", "minute"),
        ("H * * * *", "minute"),
        ("0 0 L * *", "day-of-month"),
        ("0 0 15W * *", "day-of-month"),
        ("0 0 * * 5#2", "day-of-week"),
    ],
)
def test_invalid_cron_is_rejected_naming_the_header_and_the_problem(
    text: str, problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        CronSpec.parse(text)
    assert "Upstash-Cron" in str(caught.value)
    assert problem in str(caught.value)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValidationError, match="minute"):
        CronSpec("61 * * * *", "UTC")


@pytest.mark.parametrize(
    ("text", "expression", "zone", "shown"),
    [
        ("0 9 * * *", "0 9 * * *", "UTC", "0 9 * * *"),
        ("  0\t9  * * *  ", "0 9 * * *", "UTC", "0 9 * * *"),
        ("CRON_TZ=UTC 0 9 * * *", "0 9 * * *", "UTC", "0 9 * * *"),
        ("TZ=Europe/Berlin 0 9 * * MON-FRI", "0 9 * * MON-FRI", "Europe/Berlin", None),
        ("CRON_TZ=Asia/Tokyo @daily", "0 0 * * *", "Asia/Tokyo", None),
        ("@hourly", "0 * * * *", "UTC", "0 * * * *"),
        ("@weekly", "0 0 * * 0", "UTC", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *", "UTC", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *", "UTC", "0 0 1 1 *"),
        ("0 0 ? * *", "0 0 ? * *", "UTC", "0 0 ? * *"),
    ],
)
def test_valid_cron_is_normalised(text: str, expression: str, zone: str, shown: str | None) -> None:
    spec = CronSpec.parse(text)
    assert (spec.expression, spec.zone) == (expression, zone)
    assert str(spec) == (shown or f"CRON_TZ={zone} {expression}")


@pytest.mark.parametrize(
    ("text", "first_three"),
    [
        # croniter alone would read an equal range as the whole field
        ("1-1 * * * *", ["00:01", "01:01", "02:01"]),
        ("0 0 * * 7-7", ["01-04", "01-11", "01-18"]),
        # 0-7 is every day of the week, Sunday counted twice
        ("0 0 * * 0-7", ["01-02", "01-03", "01-04"]),
        # either day field may match when both are restricted
        ("0 0 13 * fri", ["01-02", "01-09", "01-13"]),
    ],
)
def test_ranges_and_day_fields_follow_unix_cron(text: str, first_three: list[str]) -> None:
    spec = CronSpec.parse(text)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    fires = spec.fires_between(start, end, limit=3)
    shape = "%H:%M" if ":" in first_three[0] else "%m-%d"
    assert [f"{t:{shape}}" for t in fires] == first_three


# --- Call contract ------------------------------------------------------------------------


def test_naive_times_are_refused_not_guessed() -> None:
    spec = CronSpec.parse("0 9 * * *")
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError):
        spec.next_after(naive)
    with pytest.raises(ValidationError):
        spec.fires_between(naive, naive + timedelta(days=1))
    with pytest.raises(ValidationError):
        spec.fires_between(datetime(2026, 1, 1, tzinfo=UTC), naive)


def test_fires_between_counts_every_minute_of_an_hour_and_respects_limit() -> None:
    spec = CronSpec.parse("* * * * *")
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    assert len(spec.fires_between(start, start + timedelta(hours=1))) == 60
    assert spec.fires_between(start, start + timedelta(hours=1), limit=3) == [
        start + MINUTE,
        start + 2 * MINUTE,
        start + 3 * MINUTE,
    ]
    assert spec.fires_between(start, start + timedelta(hours=1), limit=0) == []


def test_fires_between_excludes_start_and_includes_end() -> None:
    spec = CronSpec.parse("0 * * * *")
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    end = start + timedelta(hours=2)

    assert spec.fires_between(start, end) == [start + timedelta(hours=1), end]
    assert spec.fires_between(end, start) == []


def test_next_after_a_fire_time_is_the_following_one() -> None:
    spec = CronSpec.parse("CRON_TZ=Europe/Berlin 0 9 * * *")
    nine = datetime(2026, 7, 1, 9, 0, tzinfo=BERLIN)

    assert spec.next_after(nine) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    assert spec.next_after(nine - timedelta(microseconds=1)) == datetime(2026, 7, 1, 7, tzinfo=UTC)
