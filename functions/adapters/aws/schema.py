"""The table's key schema, shared by the pynamodb models, the dev server and infra/.

One table, generic keys:
    pk = "MSG#<messageId>", sk = "MSG"            a message and its event log
    pk = "DEDUP#<key>",     sk = "DEDUP"          a deduplication id, for its window
GSI `wake` (sparse, keys only): items that some timer must still act on.
    wake_shard = "<0..WAKE_SHARDS-1>" (from the id), wake_at = unix ms when it is due
    A message leaves the index when it reaches a terminal state, so recovery reads only live work.
GSI `list` (sparse, keys only): what the API lists newest first (messages for the event log).
    list_pk = "<kind>#<shard>", list_sk = "<ISO time>#<id>"; set once at creation and never
    changed, so later writes to the item cost no index write.
GSI `dlq` (sparse, keys only): failed messages still in the dead-letter queue.
    dlq_pk = "DLQ#<shard>", dlq_sk = "<ISO failure time>#<id>"
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from functions.domain.clock import from_unix_seconds
from functions.domain.timers import MESSAGE, SCHEDULE, STEP, TimerPayload, step_target

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

PK = "pk"
SK = "sk"
WAKE_INDEX = "wake"
WAKE_SHARD = "wake_shard"
WAKE_AT = "wake_at"
LIST_INDEX = "list"
LIST_PK = "list_pk"
LIST_SK = "list_sk"
DLQ_INDEX = "dlq"
DLQ_PK = "dlq_pk"
DLQ_SK = "dlq_sk"
TTL_ATTRIBUTE = "expires_at"
# Enough shards to spread 1,000 writes/s well below a partition's 1,000 WCU; recovery queries each.
WAKE_SHARDS = 16


def wake_shard(item_id: str) -> str:
    """Stable shard of an item id (crc32: cheap, deterministic across processes)."""
    return str(zlib.crc32(item_id.encode()) % WAKE_SHARDS)


def list_key(kind: str, item_id: str, at: datetime) -> tuple[str, str]:
    """(partition, sort) of an item in a sharded, newest-first listing index; the fixed-width
    UTC time makes the sort key order by time."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{kind}#{wake_shard(item_id)}", f"{stamp}#{item_id}"


_KINDS = {"MSG": MESSAGE, "SCHED": SCHEDULE}


def timer_for(pk: str, sk: str, wake_at_ms: int) -> TimerPayload:
    """The timer that wakes an item of the `wake` index. The wake time is the exact due time
    the target waits for (a schedule's claim compares it), so the timer carries it unchanged."""
    prefix, _, item_id = pk.partition("#")
    wake_at = from_unix_seconds(wake_at_ms / 1000)
    if prefix == "FLOW":
        # Run 0: "the flow's current run"; the step runner resolves it.
        index = int(sk.removeprefix("STEP#"))
        return TimerPayload(step_target(item_id, 0, index), wake_at, kind=STEP)
    return TimerPayload(item_id, wake_at, kind=_KINDS[prefix])


def table_definition(table_name: str) -> CreateTableInputTypeDef:
    """CreateTable arguments for the dev server and tests (infra/ declares the same in CDK)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
            {"AttributeName": WAKE_SHARD, "AttributeType": "S"},
            {"AttributeName": WAKE_AT, "AttributeType": "N"},
            {"AttributeName": LIST_PK, "AttributeType": "S"},
            {"AttributeName": LIST_SK, "AttributeType": "S"},
            {"AttributeName": DLQ_PK, "AttributeType": "S"},
            {"AttributeName": DLQ_SK, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": WAKE_INDEX,
                "KeySchema": [
                    {"AttributeName": WAKE_SHARD, "KeyType": "HASH"},
                    {"AttributeName": WAKE_AT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": LIST_INDEX,
                "KeySchema": [
                    {"AttributeName": LIST_PK, "KeyType": "HASH"},
                    {"AttributeName": LIST_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": DLQ_INDEX,
                "KeySchema": [
                    {"AttributeName": DLQ_PK, "KeyType": "HASH"},
                    {"AttributeName": DLQ_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    }
