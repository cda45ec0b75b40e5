"""The table: the application's key schema, TTL, PITR, and what survives a stack deletion."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from functions.adapters.aws import schema
from tests.infra.synth import Deployment


def _by_name(items: Any, key: str) -> dict[str, Any]:
    return {item[key]: dict(item) for item in items}


def test_table_has_exactly_the_application_key_schema(each: Deployment) -> None:
    # Given the CreateTable arguments the dev server and the pynamodb models use
    expected = schema.table_definition("unused")
    # When reading the synthesized table
    _, table = each.only("AWS::DynamoDB::Table")
    props = table["Properties"]
    # Then keys, attribute types and every GSI are the same
    assert props["KeySchema"] == expected["KeySchema"]
    assert _by_name(props["AttributeDefinitions"], "AttributeName") == _by_name(
        expected["AttributeDefinitions"], "AttributeName"
    )
    assert _by_name(props["GlobalSecondaryIndexes"], "IndexName") == _by_name(
        expected.get("GlobalSecondaryIndexes", []), "IndexName"
    )
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_recovery_index_is_sharded_by_wake_time_and_keys_only(each: Deployment) -> None:
    _, table = each.only("AWS::DynamoDB::Table")
    indexes = _by_name(table["Properties"]["GlobalSecondaryIndexes"], "IndexName")
    assert indexes[schema.WAKE_INDEX] == {
        "IndexName": "wake",
        "KeySchema": [
            {"AttributeName": "wake_shard", "KeyType": "HASH"},
            {"AttributeName": "wake_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }


def test_table_expires_items_and_keeps_point_in_time_recovery(each: Deployment) -> None:
    each.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_production_table_survives_stack_deletion(production: Deployment) -> None:
    production.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
        },
    )


def test_sandbox_table_is_deleted_with_the_stack(sandbox: Deployment) -> None:
    sandbox.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Delete",
            "Properties": Match.object_like({"DeletionProtectionEnabled": False}),
        },
    )


def test_production_keeps_secrets_and_sandbox_deletes_them(
    production: Deployment, sandbox: Deployment
) -> None:
    # Receivers verify with the signing keys: losing them on a redeploy breaks every receiver.
    for secret in production.resources("AWS::SecretsManager::Secret").values():
        assert secret["DeletionPolicy"] == "Retain"
    for secret in sandbox.resources("AWS::SecretsManager::Secret").values():
        assert secret["DeletionPolicy"] == "Delete"
