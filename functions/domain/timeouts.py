"""The timeout inequality of the delivery path, stated once.

    SQS visibility timeout > Lambda timeout > delivery timeout + margin

If the Lambda could outlive the visibility timeout, SQS would hand the same timer to a second
invocation while the first is still sending: the classic double delivery. The lease on a claimed
message outlasts the Lambda timeout for the same reason, so recovery never steals a live attempt.
infra/ reads these numbers; tests/unit/test_timeouts.py checks the inequality.
"""

from __future__ import annotations

DELIVERY_TIMEOUT_MAX_SECONDS = 30
# Time a dispatch invocation may spend outside the HTTP call: claim, record, re-arm, signing.
DISPATCH_MARGIN_SECONDS = 15
DISPATCH_LAMBDA_TIMEOUT_SECONDS = DELIVERY_TIMEOUT_MAX_SECONDS + DISPATCH_MARGIN_SECONDS
# AWS recommends at least six times the function timeout for SQS event sources.
DELIVERY_QUEUE_VISIBILITY_SECONDS = DISPATCH_LAMBDA_TIMEOUT_SECONDS * 6
# A claim's lease: longer than any invocation that could hold it.
LEASE_SECONDS = DISPATCH_LAMBDA_TIMEOUT_SECONDS + 15


def inequality_holds() -> bool:
    """True when visibility > Lambda timeout > delivery timeout + margin and the lease covers it."""
    return (
        DELIVERY_QUEUE_VISIBILITY_SECONDS
        > DISPATCH_LAMBDA_TIMEOUT_SECONDS
        > DELIVERY_TIMEOUT_MAX_SECONDS
        and LEASE_SECONDS > DISPATCH_LAMBDA_TIMEOUT_SECONDS
    )
