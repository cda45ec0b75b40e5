"""`recover`: the sweeper, invoked by EventBridge Scheduler every minute."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions import wiring
from functions.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = wiring.graph().recovery.run()
    # Should stay at zero: anything recovered is work the normal path lost.
    metrics.add_metric(name="recovered", unit=MetricUnit.Count, value=report.recovered)
    if report.recovered:
        logger.warning("recovered overdue work", extra={"target_ids": report.target_ids})
    return {"recovered": report.recovered}
