"""The timeout inequality of the delivery path, stated once.

    SQS visibility timeout > Lambda timeout >= longest delivery timeout + margin

If the Lambda could outlive the visibility timeout, SQS would hand the same timer to a second
invocation while the first is still sending: the classic double delivery. A claim's lease
outlasts its own attempt (the message's timeout plus the margin) for the same reason, so
recovery never steals a live attempt; it is sized per message, so a crashed 30 s attempt is
retried a minute later, not after the longest timeout any message may have.
infra/ reads these numbers; tests/unit/test_timeouts.py checks the inequality.
"""

from __future__ import annotations

# Lambda's ceiling: no invocation, so no delivery attempt, may run longer.
LAMBDA_TIMEOUT_CEILING_SECONDS = 900
# Time a dispatch invocation may spend outside the HTTP call: claim, record, re-arm, signing.
DISPATCH_MARGIN_SECONDS = 15
# Upstash-Timeout's maximum: 15 minutes less that margin (14m45s).
DELIVERY_TIMEOUT_MAX_SECONDS = LAMBDA_TIMEOUT_CEILING_SECONDS - DISPATCH_MARGIN_SECONDS
# Without Upstash-Timeout, and for flow steps.
DEFAULT_DELIVERY_TIMEOUT_SECONDS = 30
DISPATCH_LAMBDA_TIMEOUT_SECONDS = DELIVERY_TIMEOUT_MAX_SECONDS + DISPATCH_MARGIN_SECONDS
# AWS recommends at least six times the function timeout for SQS event sources.
DELIVERY_QUEUE_VISIBILITY_SECONDS = DISPATCH_LAMBDA_TIMEOUT_SECONDS * 6
LEASE_MARGIN_SECONDS = 15
# Timers per dispatch invocation. Every record of a batch runs side by side, each on a thread
# of its own (functions/handlers/timer_batch.py), so the last starts at once and the Lambda
# timeout above covers each of them, not their sum.
DISPATCH_BATCH_SIZE = 10


def lease_seconds(timeout_seconds: int) -> int:
    """The lease of a claim whose attempt may take `timeout_seconds`: longer than the attempt
    and the invocation's own work around it."""
    return timeout_seconds + DISPATCH_MARGIN_SECONDS + LEASE_MARGIN_SECONDS


# A claim starts with the lease of a default attempt; a longer timeout extends it.
LEASE_SECONDS = lease_seconds(DEFAULT_DELIVERY_TIMEOUT_SECONDS)
MAX_LEASE_SECONDS = lease_seconds(DELIVERY_TIMEOUT_MAX_SECONDS)


def inequality_holds() -> bool:
    """True when visibility > Lambda timeout >= longest delivery + margin, within Lambda's
    ceiling, and every lease covers the attempt it guards."""
    return (
        DELIVERY_QUEUE_VISIBILITY_SECONDS
        > DISPATCH_LAMBDA_TIMEOUT_SECONDS
        >= DELIVERY_TIMEOUT_MAX_SECONDS + DISPATCH_MARGIN_SECONDS
        and DISPATCH_LAMBDA_TIMEOUT_SECONDS <= LAMBDA_TIMEOUT_CEILING_SECONDS
        and LEASE_SECONDS > DEFAULT_DELIVERY_TIMEOUT_SECONDS + DISPATCH_MARGIN_SECONDS
        and MAX_LEASE_SECONDS > DISPATCH_LAMBDA_TIMEOUT_SECONDS
    )
