"""Create duetime's AWS resources inside moto, the same shapes infra/ deploys."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3

from functions.adapters.aws.schema import table_definition
from functions.domain import timeouts
from functions.domain.auth import hash_token

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from functions.domain.signing import SigningKeys

REGION = "us-east-1"
ACCOUNT = "123456789012"
# The dispatch function as the API is told of it (DUETIME_DISPATCH_FUNCTION): Invoke takes its
# ARN, and so do the EventBridge schedules that invoke it.
DISPATCH_FUNCTION = "duetime-dispatch"
DISPATCH_FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{DISPATCH_FUNCTION}"


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    queue_url: str
    queue_arn: str
    step_queue_url: str
    step_queue_arn: str
    schedule_group: str
    scheduler_role_arn: str
    signing_keys_secret_id: str

    def environment(self, *, token: str, dev_mode: bool = True) -> dict[str, str]:
        """The environment the handlers read, pointing at these resources."""
        return {
            "DUETIME_TABLE_NAME": self.table_name,
            "DUETIME_QUEUE_URL": self.queue_url,
            "DUETIME_QUEUE_ARN": self.queue_arn,
            "DUETIME_STEP_QUEUE_URL": self.step_queue_url,
            "DUETIME_STEP_QUEUE_ARN": self.step_queue_arn,
            "DUETIME_SCHEDULE_GROUP": self.schedule_group,
            "DUETIME_SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
            "DUETIME_SIGNING_KEYS_SECRET_ID": self.signing_keys_secret_id,
            "DUETIME_TOKEN_SHA256": hash_token(token),
            "DUETIME_DEV_MODE": "true" if dev_mode else "false",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }


def fake_credentials() -> None:
    """moto needs credentials to exist; make sure no real ones are ever used."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)


def _queue(sqs: SQSClient, name: str) -> tuple[str, str]:
    """A queue with its DLQ (redrive after 5 receives), as infra/ declares them."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(timeouts.DELIVERY_QUEUE_VISIBILITY_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": "5"}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def provision(keys: SigningKeys, *, prefix: str = "duetime") -> LocalResources:
    """Create table, delivery queue (+DLQ), schedule group and signing-key secret in moto."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    scheduler = boto3.client("scheduler", region_name=REGION)
    secrets = boto3.client("secretsmanager", region_name=REGION)

    table_name = f"{prefix}-table"
    dynamodb.create_table(**table_definition(table_name))
    queue_url, queue_arn = _queue(sqs, f"{prefix}-delivery")
    step_queue_url, step_queue_arn = _queue(sqs, f"{prefix}-steps")
    group = f"{prefix}-timers"
    scheduler.create_schedule_group(Name=group)
    secret_arn = secrets.create_secret(
        Name=f"{prefix}/signing-keys",
        SecretString=json.dumps({"current": keys.current, "next": keys.next}),
    )["ARN"]
    return LocalResources(
        table_name=table_name,
        queue_url=queue_url,
        queue_arn=queue_arn,
        step_queue_url=step_queue_url,
        step_queue_arn=step_queue_arn,
        schedule_group=group,
        scheduler_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}-scheduler",
        signing_keys_secret_id=secret_arn,
    )
