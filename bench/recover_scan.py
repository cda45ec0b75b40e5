"""How much a recovery sweep reads: a table of N live messages of which K are overdue.

    python -m bench.recover_scan [--messages 100000] [--overdue 10]

Counts what DynamoDB reports it examined (`ScannedCount` of every Query response) and the
requests made, under moto (its consumed-capacity figures are fixed, so they are not used).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from moto import mock_aws

from functions import wiring
from functions.adapters.aws import aws_adapters
from functions.adapters.aws.messages import message_item
from functions.adapters.aws.models import MessageItem
from functions.config import Settings
from functions.domain.clock import utc_now
from functions.domain.messages import Message
from functions.local import moto_atomic, moto_speed
from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.resources import fake_credentials, provision

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--overdue", type=int, default=10)
    args = parser.parse_args()
    fake_credentials()
    moto_atomic.install()
    moto_speed.install()
    with mock_aws():
        resources = provision(DEV_SIGNING_KEYS)
        os.environ.update(resources.environment(token=DEV_TOKEN))
        settings = Settings.from_env()
        wiring.install(wiring.build(settings, aws_adapters(settings)))
        now = utc_now()
        started = time.time()
        with MessageItem.batch_write() as batch:
            for n in range(args.messages):
                overdue = n < args.overdue
                message = Message(
                    message_id=f"msg_bench{n:07d}",
                    url="https://example.com/hook",
                    method="POST",
                    headers={},
                    body=b"",
                    due_at=now + (timedelta(minutes=-5) if overdue else timedelta(hours=2)),
                    created_at=now,
                )
                batch.save(message_item(message))
        loaded = time.time() - started
        responses: list[int] = []

        def count(parsed: dict[str, Any], **_: Any) -> None:
            responses.append(int(parsed.get("ScannedCount", 0)))

        client = MessageItem._get_connection().connection.client
        client.meta.events.register("after-call.dynamodb.Query", count)
        started = time.time()
        report = wiring.graph().recovery.run()
        swept = time.time() - started
    result = {
        "messages": args.messages,
        "overdue": args.overdue,
        "recovered": report.recovered,
        "items_examined": sum(responses),
        "query_requests": len(responses),
        "sweep_seconds_under_moto": round(swept, 3),
        "load_seconds": round(loaded, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recover_scan.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
