"""The one table, declared from `functions.adapters.aws.schema.table_definition()`.

The dev server, the tests and the pynamodb models create the table from that definition; the
deployed table is built from it too, so keys and indexes cannot drift apart. Only what
CloudFormation adds on top (TTL, PITR, removal) is decided here.

DynamoDB creates or deletes at most one GSI per table update: add indexes to a deployed
table one deploy at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from functions.adapters.aws import schema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import KeySchemaElementTypeDef

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
    "ALL": dynamodb.ProjectionType.ALL,
}


class Storage(Construct):
    """On-demand DynamoDB table with the application's keys and indexes, TTL and PITR."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        definition = schema.table_definition("unused: CloudFormation names the table")
        types = {
            a["AttributeName"]: _ATTRIBUTE_TYPES[a["AttributeType"]]
            for a in definition["AttributeDefinitions"]
        }
        partition_key, sort_key = _keys(definition["KeySchema"], types)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=partition_key,
            sort_key=sort_key,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        for index in definition.get("GlobalSecondaryIndexes", []):
            index_partition, index_sort = _keys(index["KeySchema"], types)
            projection = index["Projection"]
            non_key = projection.get("NonKeyAttributes")
            self.table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=index_partition,
                sort_key=index_sort,
                projection_type=_PROJECTIONS[projection.get("ProjectionType", "ALL")],
                non_key_attributes=list(non_key) if non_key else None,
            )


def _keys(
    key_schema: Iterable[KeySchemaElementTypeDef], types: Mapping[str, dynamodb.AttributeType]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    """(partition key, sort key) of a KeySchema."""
    by_role = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    partition = dynamodb.Attribute(name=by_role["HASH"], type=types[by_role["HASH"]])
    sort_name = by_role.get("RANGE")
    sort = None if sort_name is None else dynamodb.Attribute(name=sort_name, type=types[sort_name])
    return partition, sort
