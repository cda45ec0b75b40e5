"""URL groups through the official Python SDK on both engines: endpoints added, renamed and
removed, groups listed and deleted, and publishes and batches to a group delivered once per
endpoint with the array answers the SDK parses."""

from __future__ import annotations

import secrets

import httpx
import pytest
from qstash import QStash
from qstash.errors import QStashError

from tests.e2e.conftest import DevProcess
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.e2e


def _client(dev: DevProcess) -> QStash:
    return QStash(dev.token, base_url=dev.url, retry=False)


def _name() -> str:
    return f"group-{secrets.token_hex(4)}"


def test_endpoints_are_added_renamed_removed_and_the_group_deleted(either_dev: DevProcess) -> None:
    client, name = _client(either_dev), _name()
    # When two endpoints are added, then one is renamed by adding its URL again
    client.url_group.upsert_endpoints(
        name, [{"url": "https://a.example/hook", "name": "a"}, {"url": "https://b.example/hook"}]
    )
    client.url_group.upsert_endpoints(name, [{"url": "https://b.example/hook", "name": "bee"}])
    # Then the group reads back with both, the second renamed
    group = client.url_group.get(name)
    assert group.name == name
    assert [(e.url, e.name) for e in group.endpoints] == [
        ("https://a.example/hook", "a"),
        ("https://b.example/hook", "bee"),
    ]
    assert group.updated_at >= group.created_at > 0
    assert name in [g.name for g in client.url_group.list()]
    # When one is removed by name: the other stays
    client.url_group.remove_endpoints(name, [{"name": "a"}])
    assert [e.url for e in client.url_group.get(name).endpoints] == ["https://b.example/hook"]
    # When the group is deleted: it is gone, and a second delete is a 404
    client.url_group.delete(name)
    with pytest.raises(QStashError, match="not found"):
        client.url_group.get(name)
    with pytest.raises(QStashError, match="not found"):
        client.url_group.delete(name)


def test_removing_the_last_endpoint_deletes_the_group(either_dev: DevProcess) -> None:
    client, name = _client(either_dev), _name()
    client.url_group.upsert_endpoints(name, [{"url": "https://a.example/hook"}])
    client.url_group.remove_endpoints(name, [{"url": "https://a.example/hook"}])
    assert name not in [g.name for g in client.url_group.list()]
    with pytest.raises(QStashError, match=r"has no endpoint|not found"):
        client.url_group.remove_endpoints(name, [{"url": "https://a.example/hook"}])


def test_a_publish_to_a_group_is_one_signed_message_per_endpoint(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    urls = [receiver.url("/group/one"), receiver.url("/group/two")]
    client.url_group.upsert_endpoints(name, [{"url": urls[0], "name": "one"}, {"url": urls[1]}])
    # When the SDK publishes to the group
    answers = client.message.publish_json(url_group=name, body={"hello": "group"})
    # Then it parsed one answer per endpoint, with its URL
    assert isinstance(answers, list)
    assert sorted(a.url for a in answers) == sorted(urls)
    # And each endpoint receives it once, under the message id answered for its URL
    received = {r.path: r for r in receiver.wait_for(2, timeout=15)}
    assert set(received) == {"/group/one", "/group/two"}
    for answer in answers:
        path = "/" + answer.url.split("/", 3)[3]
        assert received[path].headers["Upstash-Message-Id"] == answer.message_id
    assert len(receiver.wait_for(3, timeout=1.5)) == 2
    # And each message reads back with its group and endpoint names
    by_url = {a.url: client.message.get(a.message_id) for a in answers}
    raw = httpx.get(
        f"{either_dev.url}/v2/messages/{answers[0].message_id}",
        headers={"Authorization": f"Bearer {either_dev.token}"},
    ).json()
    assert raw["topicName"] == name
    assert by_url[urls[0]].url == urls[0]
    one = next(a for a in answers if a.url == urls[0])
    assert (
        httpx.get(
            f"{either_dev.url}/v2/messages/{one.message_id}",
            headers={"Authorization": f"Bearer {either_dev.token}"},
        ).json()["endpointName"]
        == "one"
    )


def test_a_deduplication_id_covers_each_endpoint_of_a_group_apart(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    client.url_group.upsert_endpoints(
        name, [{"url": receiver.url("/dd/1")}, {"url": receiver.url("/dd/2")}]
    )
    first = client.message.publish(url_group=name, body="x", deduplication_id=name)
    again = client.message.publish(url_group=name, body="x", deduplication_id=name)
    assert isinstance(first, list)
    assert isinstance(again, list)
    assert all(not a.deduplicated for a in first)
    assert all(a.deduplicated for a in again)
    assert {a.message_id for a in again} == {a.message_id for a in first}
    receiver.wait_for(2, timeout=15)
    assert len(receiver.wait_for(3, timeout=1)) == 2  # and no third


def test_a_batch_to_a_group_answers_a_nested_list(
    either_dev: DevProcess, receiver: Receiver
) -> None:
    client, name = _client(either_dev), _name()
    client.url_group.upsert_endpoints(
        name, [{"url": receiver.url("/nest/1")}, {"url": receiver.url("/nest/2")}]
    )
    answers = client.message.batch_json(
        [{"url_group": name, "body": {"n": 1}}, {"url": receiver.url("/nest/solo"), "body": {}}]
    )
    group_answers, solo = answers
    assert isinstance(group_answers, list)
    assert len(group_answers) == 2
    assert not isinstance(solo, list)
    assert {r.path for r in receiver.wait_for(3, timeout=15)} == {
        "/nest/1",
        "/nest/2",
        "/nest/solo",
    }


def test_a_publish_to_an_unknown_group_is_a_404_and_writes_nothing(
    either_dev: DevProcess,
) -> None:
    with pytest.raises(QStashError, match="URL group nope-never not found"):
        _client(either_dev).message.publish(url_group="nope-never", body="x")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"endpoints": [{"name": "x"}]}, "url is required"),
        ({"endpoints": [{"url": "ftp://x"}]}, "endpoints[0].url"),
        ({"endpoints": [{"url": "https://a.example", "nmae": "x"}]}, "nmae"),
        ({"endpoint": []}, "endpoint"),
        ({"endpoints": []}, "non-empty"),
    ],
)
def test_bad_endpoint_lists_are_400s_naming_the_field(
    either_dev: DevProcess, body: object, named: str
) -> None:
    answer = httpx.post(
        f"{either_dev.url}/v2/topics/{_name()}/endpoints",
        json=body,
        headers={"Authorization": f"Bearer {either_dev.token}"},
    )
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["error"]


def test_a_schedule_to_a_group_is_created_and_read_back(either_dev: DevProcess) -> None:
    client, name = _client(either_dev), _name()
    with pytest.raises(QStashError, match="not found"):
        client.schedule.create(destination=name, cron="0 9 * * *")
    client.url_group.upsert_endpoints(name, [{"url": "https://a.example/hook"}])
    schedule_id = client.schedule.create(destination=name, cron="0 9 * * *", body="tick")
    schedule = client.schedule.get(schedule_id)
    assert (schedule.destination, schedule.cron) == (name, "0 9 * * *")
    client.schedule.delete(schedule_id)
