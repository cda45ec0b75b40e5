"""The one table: messages, their event logs, and the sparse `wake` index recovery reads.

Keys come from functions/store/schema.py, the same module the pynamodb models and the dev server
use; tests/infra checks the synthesized table against `schema.table_definition()`.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from functions.store import schema


class Storage(Construct):
    """On-demand DynamoDB table with TTL and point-in-time recovery."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=schema.PK, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=schema.SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=schema.WAKE_INDEX,
            partition_key=dynamodb.Attribute(
                name=schema.WAKE_SHARD, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=schema.WAKE_AT, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
