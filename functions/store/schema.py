"""The table's key schema, shared by the pynamodb models, the dev server and infra/.

One table, generic keys:
    pk = "MSG#<messageId>", sk = "MSG"            a message and its event log
GSI `wake` (sparse, keys only): items that some timer must still act on.
    wake_shard = "<0..WAKE_SHARDS-1>" (from the id), wake_at = unix ms when it is due
A message leaves the index when it reaches a terminal state, so recovery reads only live work.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

PK = "pk"
SK = "sk"
WAKE_INDEX = "wake"
WAKE_SHARD = "wake_shard"
WAKE_AT = "wake_at"
TTL_ATTRIBUTE = "expires_at"
# Enough shards to spread 1,000 writes/s well below a partition's 1,000 WCU; recovery queries each.
WAKE_SHARDS = 16


def wake_shard(item_id: str) -> str:
    """Stable shard of an item id (crc32: cheap, deterministic across processes)."""
    return str(zlib.crc32(item_id.encode()) % WAKE_SHARDS)


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
            }
        ],
    }
