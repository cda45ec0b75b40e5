"""pynamodb models. Only store/ imports this module."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from functions.adapters.aws import schema


class EventMap(MapAttribute[str, Any]):
    state = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    attempt = NumberAttribute(default=0)
    response_status = NumberAttribute(null=True)
    response_headers = JSONAttribute(null=True)
    response_body = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    next_delivery_at = UTCDateTimeAttribute(null=True)


# pynamodb leaves Index.__init_subclass__ and MapAttribute.__init__ unannotated.
class WakeIndex(GlobalSecondaryIndex["MessageItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = schema.WAKE_INDEX
        projection = KeysOnlyProjection()

    wake_shard = UnicodeAttribute(hash_key=True)
    wake_at = NumberAttribute(range_key=True)


class ListIndex(GlobalSecondaryIndex["MessageItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = schema.LIST_INDEX
        projection = KeysOnlyProjection()

    list_pk = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class DlqIndex(GlobalSecondaryIndex["MessageItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = schema.DLQ_INDEX
        projection = KeysOnlyProjection()

    dlq_pk = UnicodeAttribute(hash_key=True)
    dlq_sk = UnicodeAttribute(range_key=True)


class ScheduleListIndex(GlobalSecondaryIndex["ScheduleItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = schema.LIST_INDEX
        projection = KeysOnlyProjection()

    list_pk = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class MessageItem(Model):
    class Meta:
        # Bound to the deployment's table by store.bind(); these are placeholders.
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    message_id = UnicodeAttribute()
    url = UnicodeAttribute()
    method = UnicodeAttribute()
    headers = JSONAttribute()
    body = BinaryAttribute(legacy_encoding=False)
    state = UnicodeAttribute()
    due_at = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    max_retries = NumberAttribute()
    retry_delay = UnicodeAttribute(null=True)
    timeout_seconds = NumberAttribute()
    callback = UnicodeAttribute(null=True)
    failure_callback = UnicodeAttribute(null=True)
    schedule_id = UnicodeAttribute(null=True)
    label = UnicodeAttribute(null=True)
    options = JSONAttribute(null=True)
    retried = NumberAttribute(default=0)
    lease_token = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    events = ListAttribute(of=EventMap, default=list)
    wake_shard = UnicodeAttribute(null=True)
    wake_at = NumberAttribute(null=True)
    list_pk = UnicodeAttribute(null=True)
    list_sk = UnicodeAttribute(null=True)
    dlq_pk = UnicodeAttribute(null=True)
    dlq_sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    wake_index = WakeIndex()
    list_index = ListIndex()
    dlq_index = DlqIndex()


class DedupItem(Model):
    """A deduplication id, pointing at the message it first published."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    message_id = UnicodeAttribute()
    # DynamoDB's TTL deletes lazily (up to days late), so the window is checked on this field.
    window_ends = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class ScheduleItem(Model):
    """A recurring schedule: its cron, the message template and where its chain of fires is."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    schedule_id = UnicodeAttribute()
    cron = UnicodeAttribute()
    url = UnicodeAttribute()
    method = UnicodeAttribute()
    headers = JSONAttribute()
    body = BinaryAttribute(legacy_encoding=False)
    max_retries = NumberAttribute()
    retry_delay = UnicodeAttribute(null=True)
    timeout_seconds = NumberAttribute()
    callback = UnicodeAttribute(null=True)
    failure_callback = UnicodeAttribute(null=True)
    label = UnicodeAttribute(null=True)
    options = JSONAttribute(null=True)
    delay_seconds = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    paused = BooleanAttribute(default=False)
    next_fire = UTCDateTimeAttribute(null=True)
    last_fire = UTCDateTimeAttribute(null=True)
    last_message_id = UnicodeAttribute(null=True)
    missed_fires = NumberAttribute(default=0)
    last_missed_at = UTCDateTimeAttribute(null=True)
    version = NumberAttribute(default=0)
    wake_shard = UnicodeAttribute(null=True)
    wake_at = NumberAttribute(null=True)
    list_pk = UnicodeAttribute(null=True)
    list_sk = UnicodeAttribute(null=True)
    list_index = ScheduleListIndex()


class FlowEventMap(MapAttribute[str, Any]):
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    step_id = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)


class FlowItem(Model):
    """A flow instance: its state token (the source of truth), status and step definitions."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    flow_id = UnicodeAttribute()
    state_token = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    run = NumberAttribute(default=1)
    definition = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    # Index of the last step whose outcome moved the flow on (-1 before any).
    advanced_through = NumberAttribute(default=-1)
    events = ListAttribute(of=FlowEventMap, default=list)


class StepItem(Model):
    """One step of a flow: its ledger line (armed, in flight, sent, skipped, failed)."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    flow_id = UnicodeAttribute()
    step_id = UnicodeAttribute()
    index = NumberAttribute()
    run = NumberAttribute(default=1)
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    due_at = UTCDateTimeAttribute(null=True)
    armed_at = UTCDateTimeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    lease_token = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    last_status = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    wake_shard = UnicodeAttribute(null=True)
    wake_at = NumberAttribute(null=True)
    events = ListAttribute(of=FlowEventMap, default=list)


class IdempotencyItem(Model):
    """A step's idempotency key: claimed (in flight, with a lease), to retry, or sent."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    flow_id = UnicodeAttribute()
    step_id = UnicodeAttribute()
    lease_token = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)


class KillSwitchItem(Model):
    """One kill switch that is on; all of them live in one small partition."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute(null=True)
    set_at = UTCDateTimeAttribute()


class TopicItem(Model):
    """One URL group; all of them live in one small partition (`TOPIC`), its name the sort key.
    `updated_at_ms` is the version a compare-and-set write conditions on."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    updated_at_ms = NumberAttribute()
    doc = UnicodeAttribute()


class QueueItem(Model):
    """One lane (a queue or a flow-control key); all of them live in one small partition
    (`QUEUES`), its name the sort key.
    `waiting` and `active` count its members and change in the same transaction as they do."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    parallelism = NumberAttribute(null=True)  # absent: no limit (a flow-control key)
    paused = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    waiting = NumberAttribute(default=0)
    active = NumberAttribute(default=0)
    rate = NumberAttribute(null=True)
    period_seconds = NumberAttribute(null=True)
    rate_count = NumberAttribute(null=True)
    period_start = UTCDateTimeAttribute(null=True)
    pinned_parallelism = BooleanAttribute(null=True)
    pinned_rate = BooleanAttribute(null=True)


class QueueMemberItem(Model):
    """A message's place in its queue: partition `QUEUE#<name>`, sort key `M#<order>`, so a
    query reads the queue's members in enqueue order."""

    class Meta:
        table_name = "duetime"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    message_id = UnicodeAttribute()
    state = UnicodeAttribute()


MODELS: tuple[type[Model], ...] = (
    MessageItem,
    DedupItem,
    ScheduleItem,
    FlowItem,
    StepItem,
    IdempotencyItem,
    KillSwitchItem,
    TopicItem,
    QueueItem,
    QueueMemberItem,
)
