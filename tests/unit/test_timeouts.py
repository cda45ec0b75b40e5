"""The timeout inequality of the delivery path: visibility > Lambda timeout > delivery + margin."""

from __future__ import annotations

from functions.domain import timeouts


def test_inequality_holds() -> None:
    assert timeouts.inequality_holds() is True


def test_visibility_timeout_outlasts_the_dispatch_lambda() -> None:
    assert timeouts.DELIVERY_QUEUE_VISIBILITY_SECONDS > timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS
    # AWS's recommendation for SQS event sources: at least six times the function timeout.
    assert (
        timeouts.DELIVERY_QUEUE_VISIBILITY_SECONDS >= 6 * timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS
    )


def test_dispatch_lambda_leaves_a_margin_beyond_the_longest_delivery() -> None:
    assert timeouts.DISPATCH_MARGIN_SECONDS > 0
    assert (
        timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS
        >= timeouts.DELIVERY_TIMEOUT_MAX_SECONDS + timeouts.DISPATCH_MARGIN_SECONDS
    )
    assert timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS > timeouts.DELIVERY_TIMEOUT_MAX_SECONDS


def test_a_lease_outlasts_the_attempt_it_guards_for_every_timeout() -> None:
    for timeout in range(1, timeouts.DELIVERY_TIMEOUT_MAX_SECONDS + 1):
        assert timeouts.lease_seconds(timeout) > timeout + timeouts.DISPATCH_MARGIN_SECONDS
    # The longest lease outlasts any invocation at all
    assert timeouts.MAX_LEASE_SECONDS > timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS
    # And a default attempt's lease stays short, so a crashed one is retried within a minute
    assert timeouts.LEASE_SECONDS == 60


def test_upstash_timeout_reaches_the_lambda_ceiling_less_the_margin() -> None:
    assert timeouts.DELIVERY_TIMEOUT_MAX_SECONDS == 900 - timeouts.DISPATCH_MARGIN_SECONDS


def test_lambda_limits_are_respected() -> None:
    # Lambda's maximum timeout is 15 minutes; SQS's maximum visibility timeout is 12 hours.
    assert timeouts.DISPATCH_LAMBDA_TIMEOUT_SECONDS <= 900
    assert timeouts.DELIVERY_QUEUE_VISIBILITY_SECONDS <= 12 * 3600
