"""ScheduleStore: upsert, reads, pause, delete, and the fire transaction (message + advance)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from functions.domain.errors import NotFoundError
from functions.domain.messages import MessageState
from functions.domain.schedules import Schedule, advance, fire_message, fire_message_id
from functions.ports import Adapters, Listing
from tests.contract.builders import T0, at, essence, new_message, new_schedule, race, stored

FIVE_MINUTES = timedelta(minutes=5)


def _fire(backend: Adapters, schedule: Schedule, *, message: bool = True) -> bool:
    """Fire `schedule` at its next fire, one minute late, as the schedule service does."""
    assert schedule.next_fire is not None
    fired_at = schedule.next_fire
    now = fired_at + timedelta(minutes=1)
    step = advance(schedule, fired_at, now=now)
    return backend.schedules.fire(
        schedule,
        fired_at=fired_at,
        messages=(fire_message(schedule, fired_at, now=now),) if message else (),
        next_fire=step.next_fire,
        missed=step.missed,
        now=now,
    )


# --- upsert and reads -----------------------------------------------------------------------


def test_a_new_schedule_is_stored_at_version_zero(backend: Adapters) -> None:
    # Given a schedule every five minutes, created at T0
    schedule = new_schedule("nightly")
    # When it is upserted
    previous = backend.schedules.upsert(schedule)
    # Then there was none before, and it reads back as given, live, at version 0
    assert previous is None
    found = backend.schedules.get("nightly")
    assert essence(found) == essence(schedule)
    assert (found.version, found.paused, found.next_fire) == (0, False, T0 + FIVE_MINUTES)
    assert backend.schedules.find("nightly") == found


def test_upsert_replaces_a_schedule_keeping_its_creation_time_and_bumping_its_version(
    backend: Adapters,
) -> None:
    # Given a schedule that has fired once
    backend.schedules.upsert(new_schedule("nightly"))
    assert _fire(backend, backend.schedules.get("nightly"))
    fired = backend.schedules.get("nightly")
    # When it is replaced an hour later by one with another cron and body
    replacement = new_schedule("nightly", now=at(3600), cron="0 * * * *", body=b"tock")
    previous = backend.schedules.upsert(replacement)
    # Then the previous one is returned
    assert previous is not None
    assert essence(previous) == essence(fired)
    # And the stored one is the replacement, created at the first's time, one version on,
    # keeping where its chain of fires got
    found = backend.schedules.get("nightly")
    assert found.created_at == T0
    assert found.version == fired.version + 1
    assert (str(found.cron), found.template.body) == ("0 * * * *", b"tock")
    assert found.next_fire == replacement.next_fire == at(7200)
    assert (found.last_fire, found.last_message_id) == (fired.last_fire, fired.last_message_id)
    assert found.paused is False


def test_unknown_schedules_are_not_found(backend: Adapters) -> None:
    # Given no schedules
    # Then reads, deletes and pauses of an unknown id say so
    assert backend.schedules.find("nope") is None
    with pytest.raises(NotFoundError):
        backend.schedules.get("nope")
    with pytest.raises(NotFoundError):
        backend.schedules.delete("nope")
    with pytest.raises(NotFoundError):
        backend.schedules.set_paused("nope", paused=True, next_fire=None)
    # And a pause of an unknown id creates nothing
    assert backend.schedules.all() == []


def test_all_lists_every_schedule_newest_first(backend: Adapters) -> None:
    # Given three schedules created a second apart
    for n, schedule_id in enumerate(["first", "second", "third"]):
        backend.schedules.upsert(new_schedule(schedule_id, now=at(n)))
    # When they are listed
    listed = backend.schedules.all()
    # Then the newest comes first
    assert [s.schedule_id for s in listed] == ["third", "second", "first"]


def test_delete_returns_the_schedule_and_forgets_it(backend: Adapters) -> None:
    # Given a schedule
    backend.schedules.upsert(new_schedule("nightly"))
    stored_schedule = backend.schedules.get("nightly")
    # When it is deleted
    deleted = backend.schedules.delete("nightly")
    # Then the deleted schedule is returned and it is gone
    assert essence(deleted) == essence(stored_schedule)
    assert backend.schedules.find("nightly") is None
    assert backend.schedules.all() == []


def test_pause_and_resume_set_the_next_fire_and_bump_the_version(backend: Adapters) -> None:
    # Given a live schedule
    backend.schedules.upsert(new_schedule("nightly"))
    # When it is paused
    backend.schedules.set_paused("nightly", paused=True, next_fire=None)
    # Then it is paused without a next fire, one version on
    paused = backend.schedules.get("nightly")
    assert (paused.paused, paused.next_fire, paused.version) == (True, None, 1)
    # When it is resumed with a next fire
    backend.schedules.set_paused("nightly", paused=False, next_fire=at(900))
    # Then it is live again with that next fire, another version on
    resumed = backend.schedules.get("nightly")
    assert (resumed.paused, resumed.next_fire, resumed.version) == (False, at(900), 2)


# --- the fire transaction -------------------------------------------------------------------


def test_a_fire_creates_its_message_and_advances_the_schedule(backend: Adapters) -> None:
    # Given a schedule waiting for its fire at T0+5min
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    fired_at = T0 + FIVE_MINUTES
    message = fire_message(schedule, fired_at, now=fired_at)
    # When that fire is claimed with its message
    won = backend.schedules.fire(
        schedule,
        fired_at=fired_at,
        messages=(message,),
        next_fire=fired_at + FIVE_MINUTES,
        missed=0,
        now=fired_at,
    )
    # Then the fire won, its message is stored, waiting, and belongs to the schedule
    assert won is True
    assert backend.messages.get(message.message_id) == stored(message)
    assert message.message_id == fire_message_id("nightly", fired_at)
    assert message.schedule_id == "nightly"
    # And the schedule moved on to the next fire, recording this one
    after = backend.schedules.get("nightly")
    assert after.next_fire == fired_at + FIVE_MINUTES
    assert (after.last_fire, after.last_message_id) == (fired_at, message.message_id)
    assert after.version == schedule.version + 1
    assert (after.missed_fires, after.last_missed_at) == (0, None)


def test_a_second_fire_for_the_same_time_loses_and_creates_nothing(backend: Adapters) -> None:
    # Given a schedule whose fire at T0+5min already happened
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    assert _fire(backend, schedule)
    after_first = backend.schedules.get("nightly")
    first_id = fire_message_id("nightly", T0 + FIVE_MINUTES)
    first_message = backend.messages.get(first_id)
    # When the same fire is claimed again, by a duplicate timer and by one with another message
    duplicate = _fire(backend, schedule)
    other = new_message(due=T0 + FIVE_MINUTES)
    stray = backend.schedules.fire(
        schedule,
        fired_at=T0 + FIVE_MINUTES,
        messages=(other,),
        next_fire=T0 + 2 * FIVE_MINUTES,
        missed=0,
        now=T0 + FIVE_MINUTES,
    )
    # Then both lose, no message is created, and neither the schedule nor the message changed
    assert (duplicate, stray) == (False, False)
    assert backend.messages.find(other.message_id) is None
    assert backend.messages.newest(Listing.LOG, cursor=None, count=10).ids == [first_id]
    assert backend.messages.get(first_id) == first_message
    assert essence(backend.schedules.get("nightly")) == essence(after_first)


def test_concurrent_fires_of_one_time_have_exactly_one_winner(backend: Adapters) -> None:
    # Given a schedule waiting for its fire at T0+5min
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    # When ten timers claim that fire at once
    outcomes = race(10, lambda _: _fire(backend, schedule))
    # Then one wins, and one message exists
    assert sorted(outcomes, key=str) == [False] * 9 + [True]
    assert backend.messages.newest(Listing.LOG, cursor=None, count=20).ids == [
        fire_message_id("nightly", T0 + FIVE_MINUTES)
    ]
    assert backend.schedules.get("nightly").version == schedule.version + 1


def test_a_fire_for_another_time_loses(backend: Adapters) -> None:
    # Given a schedule waiting for its fire at T0+5min
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    # When a stale timer claims a fire at T0+10min
    stale_at = T0 + 2 * FIVE_MINUTES
    message = fire_message(schedule, stale_at, now=stale_at)
    won = backend.schedules.fire(
        schedule,
        fired_at=stale_at,
        messages=(message,),
        next_fire=stale_at + FIVE_MINUTES,
        missed=0,
        now=stale_at,
    )
    # Then it loses, creates nothing and leaves the schedule waiting
    assert won is False
    assert backend.messages.find(message.message_id) is None
    assert essence(backend.schedules.get("nightly")) == essence(schedule)


def test_a_paused_schedule_loses_its_fire(backend: Adapters) -> None:
    # Given a schedule paused while still naming its next fire
    backend.schedules.upsert(new_schedule("nightly"))
    backend.schedules.set_paused("nightly", paused=True, next_fire=T0 + FIVE_MINUTES)
    paused = backend.schedules.get("nightly")
    # When that fire arrives
    won = _fire(backend, paused)
    # Then it loses, no message is created, and the schedule is unchanged
    assert won is False
    assert backend.messages.newest(Listing.LOG, cursor=None, count=10).ids == []
    assert essence(backend.schedules.get("nightly")) == essence(paused)


def test_a_deleted_schedule_loses_its_fire(backend: Adapters) -> None:
    # Given a schedule deleted before its fire
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    backend.schedules.delete("nightly")
    # When the fire arrives
    won = _fire(backend, schedule)
    # Then it loses, creates no message, and does not bring the schedule back
    assert won is False
    assert backend.messages.newest(Listing.LOG, cursor=None, count=10).ids == []
    assert backend.schedules.find("nightly") is None


def test_a_fire_whose_message_exists_advances_nothing(backend: Adapters) -> None:
    # Given a schedule, and a message already holding the id its next fire's message takes
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    squatter = new_message(fire_message_id("nightly", T0 + FIVE_MINUTES))
    backend.messages.create(squatter)
    # When the fire is claimed
    won = _fire(backend, schedule)
    # Then it loses as a whole: the schedule did not advance, the message is untouched
    assert won is False
    assert essence(backend.schedules.get("nightly")) == essence(schedule)
    assert backend.messages.get(squatter.message_id) == stored(squatter)


def test_a_fire_without_a_message_only_advances(backend: Adapters) -> None:
    # Given a schedule waiting for its fire at T0+5min
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    # When the fire is claimed without a message (the kill switch is on)
    won = _fire(backend, schedule, message=False)
    # Then it wins, the schedule advances, and no message exists
    assert won is True
    after = backend.schedules.get("nightly")
    assert (after.next_fire, after.last_fire) == (T0 + 2 * FIVE_MINUTES, T0 + FIVE_MINUTES)
    assert after.last_message_id is None
    assert backend.messages.newest(Listing.LOG, cursor=None, count=10).ids == []


def test_a_late_fire_counts_the_missed_ones(backend: Adapters) -> None:
    # Given a schedule waiting for its fire at T0+5min
    backend.schedules.upsert(new_schedule("nightly"))
    schedule = backend.schedules.get("nightly")
    fired_at = T0 + FIVE_MINUTES
    # When that fire is claimed 12 minutes late, two later fires missed
    now = fired_at + timedelta(minutes=12)
    step = advance(schedule, fired_at, now=now)
    assert (step.next_fire, step.missed) == (T0 + 4 * FIVE_MINUTES, 2)
    message = fire_message(schedule, fired_at, now=now)
    won = backend.schedules.fire(
        schedule,
        fired_at=fired_at,
        messages=(message,),
        next_fire=step.next_fire,
        missed=step.missed,
        now=now,
    )
    # Then the schedule counts them, and resumes after now
    assert won is True
    after = backend.schedules.get("nightly")
    assert (after.missed_fires, after.last_missed_at) == (2, now)
    assert after.next_fire == T0 + 4 * FIVE_MINUTES
    assert backend.messages.get(message.message_id).state is MessageState.CREATED


def test_a_fire_to_a_url_group_creates_every_endpoints_message_or_none(
    backend: Adapters,
) -> None:
    backend.schedules.upsert(new_schedule("fanout"))
    schedule = backend.schedules.get("fanout")
    assert schedule.next_fire is not None
    fired_at = schedule.next_fire
    base = fire_message(schedule, fired_at, now=fired_at)
    messages = tuple(
        dataclasses.replace(base, message_id=f"{base.message_id}-{n}", url=f"https://e{n}.example/")
        for n in range(3)
    )
    step = advance(schedule, fired_at, now=fired_at)

    def fire() -> bool:
        return backend.schedules.fire(
            schedule,
            fired_at=fired_at,
            messages=messages,
            next_fire=step.next_fire,
            missed=0,
            now=fired_at,
        )

    assert fire() is True
    assert [m.url for m in backend.messages.get_many([m.message_id for m in messages])] == [
        "https://e0.example/",
        "https://e1.example/",
        "https://e2.example/",
    ]
    assert backend.schedules.get("fanout").last_message_id == messages[0].message_id
    # The same fire again (a duplicate timer) loses and writes nothing more
    assert fire() is False
    assert backend.schedules.get("fanout").next_fire == step.next_fire


def test_pending_ids_hold_messages_only_not_the_schedules_beside_them(
    backend: Adapters,
) -> None:
    backend.schedules.upsert(new_schedule("nightly"))
    message = new_message()
    backend.messages.create(message)
    assert backend.messages.pending_ids() == [message.message_id]
