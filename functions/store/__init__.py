"""DynamoDB access. Nothing outside this package touches the table."""

from __future__ import annotations

from functions.store.models import MODELS


def bind(*, table_name: str, region: str) -> None:
    """Point every model at the deployment's table (pynamodb keeps this on the class)."""
    for model in MODELS:
        if model.Meta.table_name != table_name or model.Meta.region != region:
            model.Meta.table_name = table_name
            model.Meta.region = region
            model._connection = None
