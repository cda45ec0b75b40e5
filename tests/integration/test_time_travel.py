"""Time travel: `duetime.testing`'s manual clock fires a month, a week of crons or a retry
ladder in the seconds the deliveries take, each at its virtual time, in order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from qstash import QStash
from qstash import Receiver as SignatureReceiver

from duetime.testing import DuetimeTestServer, running
from tests.helpers.receiver import Received, Receiver, Reply

BERLIN = ZoneInfo("Europe/Berlin")


def _sdk(server: DuetimeTestServer) -> QStash:
    return QStash(server.token, base_url=server.url)


def _events(server: DuetimeTestServer, message_id: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{server.url}/v2/events",
        params={"messageId": message_id, "count": 100},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["events"]))  # oldest first


def _at(ms: object) -> datetime:
    assert isinstance(ms, int)
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_a_thirty_day_delay_is_delivered_at_its_virtual_time_and_verifies(
    duetime_server: DuetimeTestServer, receiver: Receiver
) -> None:
    start = duetime_server.now()
    published = _sdk(duetime_server).message.publish(
        url=receiver.url("/reminder"), body="thirty days on", delay="30d"
    )
    message_id = published.message_id  # type: ignore[union-attr]

    # A second short of the delay: still waiting.
    early = duetime_server.advance(timedelta(days=30) - timedelta(seconds=1))
    assert early.fired == 0
    assert receiver.requests == []

    duetime_server.advance("1d")
    (delivery,) = receiver.wait_for(1)
    assert delivery.body == b"thirty days on"
    # Signed with the wall clock, so a receiver's own clock accepts it.
    SignatureReceiver(
        current_signing_key=duetime_server.current_signing_key,
        next_signing_key=duetime_server.next_signing_key,
    ).verify(
        signature=delivery.headers["Upstash-Signature"],
        body=delivery.body.decode(),
        url=receiver.url("/reminder"),
    )
    delivered = [e for e in _events(duetime_server, message_id) if e["state"] == "DELIVERED"]
    one_ms = timedelta(milliseconds=1)
    assert _at(delivered[0]["time"]) - start == pytest.approx(timedelta(days=30), abs=one_ms)
    assert duetime_server.now() - start == timedelta(days=31, seconds=-1)


def test_a_week_of_berlin_office_hours_crosses_the_dst_change_on_local_time(
    receiver: Receiver,
) -> None:
    # Monday 2026-03-23 00:00 Berlin; the clocks go forward on Sunday 2026-03-29, so the
    # second Monday's 09:00 is 07:00 UTC where the first one's was 08:00 UTC.
    monday = datetime(2026, 3, 23, tzinfo=BERLIN).astimezone(UTC)
    with running(start=monday) as server:
        _sdk(server).schedule.create(
            destination=receiver.url("/office"),
            cron="CRON_TZ=Europe/Berlin */30 9-17 * * 1-5",
            body="tick",
        )
        server.advance("8d")
        fires = [r.headers["Upstash-Schedule-Id"] for r in receiver.requests]
        times = _schedule_fire_times(server)
    # 18 fires a weekday (09:00 to 17:30), five weekdays, then the next Monday.
    assert len(fires) == 18 * 6
    local = [t.astimezone(BERLIN) for t in times]
    assert {(t.hour, t.minute) for t in local} == {(h, m) for h in range(9, 18) for m in (0, 30)}
    assert {t.weekday() for t in local} == {0, 1, 2, 3, 4}
    assert times[0] == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert times[-18] == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # summer time: UTC+2
    assert times == sorted(times)


def _schedule_fire_times(server: DuetimeTestServer) -> list[datetime]:
    response = httpx.get(
        f"{server.url}/v2/events",
        params={"state": "DELIVERED", "count": 1000},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert response.status_code == 200, response.text
    return sorted(_at(e["time"]) for e in response.json()["events"])


def test_the_offer_retry_ladder_doubles_from_a_minute_to_the_hour_cap(
    duetime_server: DuetimeTestServer,
) -> None:
    def refuse(_: Received, __: int) -> Reply:
        return Reply(status=503, body=b"mail server down")

    with Receiver(refuse) as failing:
        published = _sdk(duetime_server).message.publish(
            url=failing.url("/offer"),
            body="offer",
            retries=7,
            retry_delay="min(3600000, 60000 * pow(2, retried))",
        )
        message_id = published.message_id  # type: ignore[union-attr]
        duetime_server.advance("1d")
        assert len(failing.wait_for(8)) == 8

    events = _events(duetime_server, message_id)
    attempts = [_at(e["time"]) for e in events if e["state"] in ("ERROR", "FAILED")]
    gaps = [round((b - a).total_seconds()) for a, b in itertools.pairwise(attempts)]
    assert gaps == [60, 120, 240, 480, 960, 1920, 3600]
    assert events[-1]["state"] == "FAILED"


def _clock_call(server_url: str, token: str, body: object | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if body is None:
        return httpx.get(f"{server_url}/v2/dev/clock", headers=headers)
    return httpx.post(f"{server_url}/v2/dev/clock", headers=headers, json=body)


def test_the_clock_api_reads_advances_and_sets_the_manual_clock(
    duetime_server: DuetimeTestServer, receiver: Receiver
) -> None:
    url, token = duetime_server.url, duetime_server.token
    before = _clock_call(url, token).json()
    assert before["mode"] == "manual"
    _sdk(duetime_server).message.publish(url=receiver.url("/in-an-hour"), body="x", delay="1h")

    moved = _clock_call(url, token, {"advance": "90m"}).json()
    assert moved["now"] - before["now"] == 90 * 60 * 1000
    assert moved["fired"] >= 1
    assert [r.path for r in receiver.wait_for(1)] == ["/in-an-hour"]

    target = datetime(2030, 1, 1, tzinfo=UTC)
    assert _clock_call(url, token, {"set": "2030-01-01T01:00:00+01:00"}).json()["now"] == int(
        target.timestamp() * 1000
    )
    assert _clock_call(url, token, {"set": int(target.timestamp() * 1000) + 5}).status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"advance": "1h", "set": 0}, "exactly one"),
        ({"forward": "1h"}, "forward"),
        ({"advance": "soon"}, "advance"),
        ({"advance": 60}, "advance"),
        ({"set": "2030-01-01T00:00:00"}, "time zone"),
        ({"set": 0}, "only moves forward"),
        ({"set": True}, "set"),
        ({"set": 10**30}, "out of range"),
        ([], "JSON object"),
    ],
)
def test_bad_clock_moves_are_400s_that_name_the_problem_and_leave_the_clock(
    duetime_server: DuetimeTestServer, body: object, named: str
) -> None:
    url, token = duetime_server.url, duetime_server.token
    before = _clock_call(url, token).json()["now"]
    response = _clock_call(url, token, body)
    assert response.status_code == 400
    assert named in response.json()["error"]
    assert _clock_call(url, token).json()["now"] == before


def test_a_real_clock_refuses_to_move_with_409() -> None:
    from functions.local.embedded import EmbeddedServer

    server = EmbeddedServer(port=0)
    server.start()
    try:
        assert _clock_call(server.url, server.token).json()["mode"] == "real"
        response = _clock_call(server.url, server.token, {"advance": "1h"})
    finally:
        server.stop()
    assert response.status_code == 409
    assert "--clock manual" in response.json()["error"]
