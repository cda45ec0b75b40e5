"""The deployable stack: one `Duetime` construct and the outputs an operator needs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from infra.config import DuetimeProps
from infra.construct import Duetime


class DuetimeStack(Stack):
    """duetime with its outputs: API URL, secret ARNs, table name, dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: DuetimeProps,
        env: Environment | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=description
            or "duetime: self-hosted, QStash v2 compatible delayed HTTP delivery",
        )
        self.duetime = Duetime(self, "Duetime", props=props)
        outputs = {
            "ApiUrl": (self.duetime.url, "QSTASH_URL for the QStash SDKs"),
            "ApiTokenSecretArn": (
                self.duetime.secrets.api_token.secret_arn,
                "Secret holding the bootstrap API token (QSTASH_TOKEN)",
            ),
            "SigningKeysSecretArn": (
                self.duetime.secrets.signing_keys.secret_arn,
                "Secret holding the signing key material (or current/next keys)",
            ),
            "TableName": (self.duetime.storage.table.table_name, "DynamoDB table"),
            "DeliveryDlqUrl": (
                self.duetime.timers.delivery_dlq.queue_url,
                "Dead-letter queue of failed delivery timers",
            ),
            "ScheduleGroupName": (
                self.duetime.timers.schedule_group_name,
                "EventBridge Scheduler group of one-time wake-ups",
            ),
            "DashboardName": (
                self.duetime.monitoring.dashboard.dashboard_name,
                "CloudWatch dashboard",
            ),
        }
        for output_id, (value, text) in outputs.items():
            CfnOutput(self, output_id, value=value, description=text)
