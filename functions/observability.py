"""The one logger and metrics objects every handler shares (service name from the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="duetime")
metrics = Metrics(namespace="duetime", service="duetime")
