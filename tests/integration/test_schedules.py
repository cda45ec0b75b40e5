"""Recurring schedules through the API and the fire handler, with a hand-moved clock."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import boto3
import pytest

from functions import wiring
from functions.domain.timers import SCHEDULE, TimerPayload
from functions.services.delivery import Outcome
from functions.services.schedules import ScheduleService
from tests.helpers.api import call
from tests.helpers.clock import FakeClock
from tests.helpers.drive import drive, fake_dispatcher
from tests.helpers.receiver import Receiver
from tests.integration.conftest import Aws

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def _create(aws: Aws, url: str, cron: str, **headers: str) -> str:
    response = call(
        "POST",
        f"/v2/schedules/{url}",
        token=aws.token,
        headers={"Upstash-Cron": cron, **headers},
        body="tick",
    )
    assert response.status == 201, response.json
    return str(response.json["scheduleId"])


def _service(clock: FakeClock) -> ScheduleService:
    return dataclasses.replace(
        wiring.graph().schedule_service, clock=clock, deliver=fake_dispatcher(clock).handle
    )


def _fire_next(schedule_id: str, clock: FakeClock) -> Outcome:
    """Move the clock to the schedule's next fire and let its timer go off."""
    schedule = wiring.graph().schedule_service.store.get(schedule_id)
    assert schedule.next_fire is not None
    clock.now = schedule.next_fire
    return _service(clock).fire(TimerPayload(schedule_id, schedule.next_fire, kind=SCHEDULE))


def _run_schedule(
    aws: Aws, receiver: Receiver, cron: str, start: datetime, end: datetime
) -> list[datetime]:
    """Create a schedule at `start` and fire it until `end`; returns the UTC fire times."""
    clock = FakeClock(start)
    service = _service(clock)
    schedule_id = service.upsert(
        schedule_id="dst", destination=receiver.url(), headers={"Upstash-Cron": cron}, body=b""
    )
    fired: list[datetime] = []
    while True:
        schedule = service.store.get(schedule_id)
        assert schedule.next_fire is not None
        if schedule.next_fire > end:
            return fired
        assert _fire_next(schedule_id, clock) is Outcome.DELIVERED
        fired.append(schedule.next_fire)


def test_schedule_is_created_listed_and_read_back(aws: Aws, receiver: Receiver) -> None:
    schedule_id = _create(
        aws,
        receiver.url(),
        "CRON_TZ=America/New_York 0 9 * * *",
        **{"Upstash-Retries": "2", "Upstash-Forward-X-Job": "sweep"},
    )
    read = call("GET", f"/v2/schedules/{schedule_id}", token=aws.token)
    assert read.status == 200
    assert read.json["cron"] == "CRON_TZ=America/New_York 0 9 * * *"
    assert read.json["destination"] == receiver.url()
    assert read.json["retries"] == 2
    assert read.json["header"] == {"x-job": ["sweep"]}
    assert read.json["isPaused"] is False
    next_fire = datetime.fromtimestamp(read.json["nextScheduleTime"] / 1000, UTC)
    assert next_fire.astimezone(NEW_YORK).hour == 9
    listed = call("GET", "/v2/schedules", token=aws.token)
    assert [s["scheduleId"] for s in listed.json] == [schedule_id]


def test_setup_called_twice_leaves_one_schedule_updated(aws: Aws, receiver: Receiver) -> None:
    first = _create(aws, receiver.url(), "0 * * * *", **{"Upstash-Schedule-Id": "hourly-sweep"})
    second = _create(aws, receiver.url(), "30 * * * *", **{"Upstash-Schedule-Id": "hourly-sweep"})
    assert first == second == "hourly-sweep"
    listed = call("GET", "/v2/schedules", token=aws.token).json
    assert len(listed) == 1
    assert listed[0]["cron"] == "30 * * * *"


@pytest.mark.parametrize(
    ("cron", "error"),
    [
        ("61 * * * *", "Upstash-Cron"),
        ("* * * *", "5 fields"),
        ("CRON_TZ=Mars/Olympus 0 9 * * *", "zone"),
    ],
)
def test_bad_cron_or_zone_is_a_400_and_stores_nothing(
    aws: Aws, receiver: Receiver, cron: str, error: str
) -> None:
    response = call(
        "POST", f"/v2/schedules/{receiver.url()}", token=aws.token, headers={"Upstash-Cron": cron}
    )
    assert response.status == 400
    assert error in response.json["error"]
    assert call("GET", "/v2/schedules", token=aws.token).json == []
    sqs = boto3.client("sqs", region_name="us-east-1")
    attrs = sqs.get_queue_attributes(
        QueueUrl=aws.resources.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "0"


def test_a_fire_delivers_signed_with_the_schedule_id_and_arms_the_next(
    aws: Aws, receiver: Receiver
) -> None:
    schedule_id = _create(aws, receiver.url(), "*/5 * * * *")
    clock = FakeClock()
    assert _fire_next(schedule_id, clock) is Outcome.DELIVERED
    (request,) = receiver.wait_for(1)
    assert request.headers["Upstash-Schedule-Id"] == schedule_id
    assert request.headers["Upstash-Signature"]
    assert request.body == b"tick"
    view = call("GET", f"/v2/schedules/{schedule_id}", token=aws.token).json
    assert view["lastScheduleTime"] == int(clock.now.timestamp() * 1000)
    assert view["nextScheduleTime"] == view["lastScheduleTime"] + 5 * 60_000
    assert list(view["lastScheduleStates"].values()) == ["SUCCESS"]


def test_a_tick_fired_twice_delivers_once(aws: Aws, receiver: Receiver) -> None:
    schedule_id = _create(aws, receiver.url(), "* * * * *")
    fire_at = wiring.graph().schedule_service.store.get(schedule_id).next_fire
    assert fire_at is not None
    clock = FakeClock(fire_at)
    payload = TimerPayload(schedule_id, fire_at, kind=SCHEDULE)
    assert _service(clock).fire(payload) is Outcome.DELIVERED
    assert _service(clock).fire(payload) is Outcome.SKIPPED
    assert len(receiver.wait_for(2, timeout=0.5)) == 1


def test_pause_stops_fires_and_resume_continues_on_time(aws: Aws, receiver: Receiver) -> None:
    schedule_id = _create(aws, receiver.url(), "* * * * *")
    armed = wiring.graph().schedule_service.store.get(schedule_id).next_fire
    assert armed is not None
    assert call("PATCH", f"/v2/schedules/{schedule_id}/pause", token=aws.token).status == 200
    assert call("GET", f"/v2/schedules/{schedule_id}", token=aws.token).json["isPaused"] is True
    # The timer armed before the pause fires, and sends nothing.
    clock = FakeClock(armed)
    assert _service(clock).fire(TimerPayload(schedule_id, armed, kind=SCHEDULE)) is Outcome.SKIPPED
    assert receiver.requests == []
    # Resume (by POST, which is accepted as well as PATCH): the next fire is the next minute.
    assert call("POST", f"/v2/schedules/{schedule_id}/resume", token=aws.token).status == 200
    resumed = wiring.graph().schedule_service.store.get(schedule_id)
    assert resumed.next_fire is not None
    assert resumed.next_fire > armed - timedelta(minutes=1)
    assert _fire_next(schedule_id, clock) is Outcome.DELIVERED
    assert len(receiver.wait_for(1)) == 1


def test_deleted_schedule_never_fires_again(aws: Aws, receiver: Receiver) -> None:
    schedule_id = _create(aws, receiver.url(), "* * * * *")
    armed = wiring.graph().schedule_service.store.get(schedule_id).next_fire
    assert armed is not None
    assert call("DELETE", f"/v2/schedules/{schedule_id}", token=aws.token).status == 200
    assert call("GET", f"/v2/schedules/{schedule_id}", token=aws.token).status == 404
    clock = FakeClock(armed)
    assert _service(clock).fire(TimerPayload(schedule_id, armed, kind=SCHEDULE)) is Outcome.SKIPPED
    assert receiver.requests == []


def test_an_outage_yields_one_catch_up_fire_then_continues(aws: Aws, receiver: Receiver) -> None:
    # Given a minutely schedule whose timer was lost, and 10 minutes of outage
    schedule_id = _create(aws, receiver.url(), "* * * * *")
    missed_from = wiring.graph().schedule_service.store.get(schedule_id).next_fire
    assert missed_from is not None
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=aws.resources.queue_url)
    clock = FakeClock(missed_from + timedelta(minutes=10, seconds=5))
    # When the sweeper runs, it re-arms the schedule's overdue fire, which fires once
    recovery = dataclasses.replace(wiring.graph().recovery, clock=clock)
    assert recovery.run().recovered == 1
    assert (
        _service(clock).fire(TimerPayload(schedule_id, missed_from, kind=SCHEDULE))
        is Outcome.DELIVERED
    )
    # Then one delivery, the missed fires are counted, and the next fire is on the minute
    assert len(receiver.wait_for(2, timeout=0.5)) == 1
    view = call("GET", f"/v2/schedules/{schedule_id}", token=aws.token).json
    assert view["missedFires"] == 10
    assert view["nextScheduleTime"] == int((missed_from + timedelta(minutes=11)).timestamp() * 1000)
    assert recovery.run().recovered == 0


def test_daily_nine_oclock_new_york_stays_local_across_spring_forward(
    aws: Aws, receiver: Receiver
) -> None:
    start = datetime(2026, 3, 5, 12, tzinfo=UTC)
    fired = _run_schedule(
        aws, receiver, "CRON_TZ=America/New_York 0 9 * * *", start, start + timedelta(days=6)
    )
    assert [f.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for f in fired] == [
        "03-05 09:00",
        "03-06 09:00",
        "03-07 09:00",
        "03-08 09:00",
        "03-09 09:00",
        "03-10 09:00",
    ]
    assert [f.hour for f in fired] == [14, 14, 14, 13, 13, 13]
    assert len(receiver.wait_for(6)) == 6


def test_daily_0230_runs_exactly_once_on_both_transition_days(aws: Aws, receiver: Receiver) -> None:
    spring = _run_schedule(
        aws,
        receiver,
        "CRON_TZ=America/New_York 30 2 * * *",
        datetime(2026, 3, 7, 12, tzinfo=UTC),
        datetime(2026, 3, 9, 12, tzinfo=UTC),
    )
    assert [f.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for f in spring] == [
        "03-08 03:30",
        "03-09 02:30",
    ]
    autumn = _run_schedule(
        aws,
        receiver,
        "CRON_TZ=Europe/Berlin 30 2 * * *",
        datetime(2026, 10, 24, 12, tzinfo=UTC),
        datetime(2026, 10, 26, 12, tzinfo=UTC),
    )
    assert [f.astimezone(BERLIN).strftime("%m-%d %H:%M") for f in autumn] == [
        "10-25 02:30",
        "10-26 02:30",
    ]


def test_business_hours_every_30_minutes_in_berlin_across_dst(aws: Aws, receiver: Receiver) -> None:
    start = datetime(2026, 3, 26, 0, tzinfo=UTC)  # Thursday before the change on Sunday 29th
    fired = _run_schedule(
        aws, receiver, "CRON_TZ=Europe/Berlin */30 9-17 * * 1-5", start, start + timedelta(days=6)
    )
    per_day = Counter(f.astimezone(BERLIN).strftime("%a %m-%d") for f in fired)
    assert per_day == {"Thu 03-26": 18, "Fri 03-27": 18, "Mon 03-30": 18, "Tue 03-31": 18}
    local_hours = {f.astimezone(BERLIN).hour for f in fired}
    assert local_hours == set(range(9, 18))
    # 09:00 Berlin is 08:00 UTC before the change and 07:00 UTC after it.
    firsts = sorted(
        {
            (f.astimezone(BERLIN).date(), f.hour)
            for f in fired
            if f.astimezone(BERLIN).hour == 9 and f.minute == 0
        }
    )
    assert [hour for _, hour in firsts] == [8, 8, 7, 7]


def test_route_switches_skip_a_schedules_fires_and_refuse_publishes_to_the_route(
    aws: Aws, receiver: Receiver
) -> None:
    # Given two schedules, one to the route that will be switched off
    route = receiver.url("/route-a")
    on_route = _create(aws, f"{route}/hook", "* * * * *")
    other = _create(aws, receiver.url("/route-b"), "* * * * *")
    scope = quote(f"url:{route}", safe="")
    # When the route's switch (a URL prefix) is on
    assert call("PUT", f"/v2/kill-switches/{scope}", token=aws.token).status == 200
    # Then a publish to the route is a 503 naming it, one elsewhere is accepted
    refused = call("POST", f"/v2/publish/{route}/x", token=aws.token, body="x")
    assert refused.status == 503
    assert f"url:{route}" in refused.json["error"]
    assert call("POST", f"/v2/publish/{receiver.url('/route-b/x')}", token=aws.token).status == 201
    # And the schedule to the route fires nothing (its chain goes on), the other delivers
    clock = FakeClock()
    assert _fire_next(on_route, clock) is Outcome.SKIPPED
    assert _fire_next(other, clock) is Outcome.DELIVERED
    # A schedule's own switch skips only that schedule
    assert call("DELETE", f"/v2/kill-switches/{scope}", token=aws.token).status == 200
    assert call("PUT", f"/v2/kill-switches/schedule:{other}", token=aws.token).status == 200
    assert _fire_next(other, clock) is Outcome.SKIPPED
    assert _fire_next(on_route, clock) is Outcome.DELIVERED
    # And off again, it fires
    assert call("DELETE", f"/v2/kill-switches/schedule:{other}", token=aws.token).status == 200
    assert _fire_next(other, clock) is Outcome.DELIVERED
    # (the accepted publish is only stored here: nothing drives its timer)
    paths = sorted(r.path for r in receiver.wait_for(3, timeout=5))
    assert paths == ["/route-a/hook", "/route-b", "/route-b"]


def test_an_unknown_kill_switch_scope_is_a_400_listing_the_scopes(aws: Aws) -> None:
    answer = call("PUT", "/v2/kill-switches/topic:orders", token=aws.token)
    assert answer.status == 400
    assert "'url:<URL prefix>'" in answer.json["error"]
    assert "'queue:<name>'" in answer.json["error"]


def test_a_queue_switch_skips_fires_into_that_queue_and_refuses_enqueues(
    aws: Aws, receiver: Receiver
) -> None:
    into_queue = _create(aws, receiver.url("/queued"), "* * * * *", **{"Upstash-Queue-Name": "q"})
    assert call("GET", f"/v2/schedules/{into_queue}", token=aws.token).json["queueName"] == "q"
    assert call("PUT", "/v2/kill-switches/queue:q", token=aws.token).status == 200
    refused = call("POST", f"/v2/enqueue/q/{receiver.url('/x')}", token=aws.token, body="x")
    assert refused.status == 503
    assert "queue:q" in refused.json["error"]
    assert call("POST", f"/v2/enqueue/other/{receiver.url('/x')}", token=aws.token).status == 201
    clock = FakeClock()
    assert _fire_next(into_queue, clock) is Outcome.SKIPPED
    assert call("DELETE", "/v2/kill-switches/queue:q", token=aws.token).status == 200
    assert _fire_next(into_queue, clock) is Outcome.DELIVERED
    (request,) = receiver.wait_for(1, timeout=5)
    assert request.path == "/queued"


def test_a_schedule_to_a_url_group_fans_each_fire_out_to_its_endpoints(
    aws: Aws, receiver: Receiver
) -> None:
    endpoints = [
        {"url": receiver.url("/group/a"), "name": "a"},
        {"url": receiver.url("/group/b")},
    ]
    added = call(
        "POST",
        "/v2/topics/nightly-group/endpoints",
        token=aws.token,
        body=json.dumps({"endpoints": endpoints}),
    )
    assert added.status == 200
    # An unknown group is a 404, and nothing is written
    missing = call("POST", "/v2/schedules/no-such-group", token=aws.token, headers=_cron())
    assert missing.status == 404
    schedule_id = _create(aws, "nightly-group", "* * * * *")
    view = call("GET", f"/v2/schedules/{schedule_id}", token=aws.token).json
    assert view["destination"] == "nightly-group"
    # When it fires: the first endpoint's message is delivered at once, the other's is armed
    clock = FakeClock()
    assert _fire_next(schedule_id, clock) is Outcome.DELIVERED
    (armed,) = wiring.graph().message_store.pending_ids()
    assert drive(armed, clock) == [Outcome.DELIVERED]
    received = receiver.wait_for(2, timeout=5)
    assert sorted(r.path for r in received) == ["/group/a", "/group/b"]
    ids = [r.headers["Upstash-Message-Id"] for r in received]
    assert len(set(ids)) == 2
    for message_id in ids:
        message = call("GET", f"/v2/messages/{message_id}", token=aws.token).json
        assert (message["topicName"], message["scheduleId"]) == ("nightly-group", schedule_id)
    # When the group is gone, fires send nothing and the chain goes on
    assert call("DELETE", "/v2/topics/nightly-group", token=aws.token).status == 200
    assert _fire_next(schedule_id, clock) is Outcome.SKIPPED
    assert call("GET", f"/v2/schedules/{schedule_id}", token=aws.token).json["isPaused"] is False


def _cron() -> dict[str, str]:
    return {"Upstash-Cron": "* * * * *"}
