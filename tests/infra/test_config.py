"""Deployment settings: validated when built, read from cdk.json context or `-c` flags."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from infra.config import DuetimeConfigError, DuetimeProps, props_from_context


def _from_context(context: dict[str, Any]) -> DuetimeProps:
    return props_from_context(cdk.App(context=context).node)


def test_defaults_are_production() -> None:
    props = DuetimeProps()
    assert props.removal_policy == cdk.RemovalPolicy.RETAIN
    assert props.deletion_protection is True
    assert props.api == "http_api"
    assert props.schedule_group_name == "duetime"


def test_sandbox_differs_only_in_what_happens_to_data() -> None:
    production = DuetimeProps(max_dispatch_concurrency=7)
    sandbox = production.as_sandbox()
    assert sandbox.removal_policy == cdk.RemovalPolicy.DESTROY
    assert sandbox.deletion_protection is False
    assert sandbox.max_dispatch_concurrency == 7


@pytest.mark.parametrize(
    "overrides",
    [
        {"schedule_group_name": "has space"},
        {"retention_days": 15},
        {"max_dispatch_concurrency": 1},
        {"allowed_destination_hosts": ("https://example.com",)},
        {"throttle_rate_limit": 0},
        {"log_level": "LOUD"},
        # at or under the event source's cap, throttles would land on the queue's batches
        {"dispatch_reserved_concurrency": 100},
        {"max_dispatch_concurrency": 300, "dispatch_reserved_concurrency": 200},
    ],
)
def test_settings_aws_would_reject_fail_at_synth(overrides: dict[str, Any]) -> None:
    with pytest.raises(DuetimeConfigError):
        DuetimeProps(**overrides)


def test_cli_strings_and_cdk_json_values_are_both_accepted() -> None:
    # Given `-c` flags (strings) as the CLI passes them
    props = _from_context(
        {
            "duetime:sandbox": "true",
            "duetime:api": "function_url",
            "duetime:allowedHosts": "Example.com, hooks.example.org",
            "duetime:maxDispatchConcurrency": "20",
            "duetime:dispatchReservedConcurrency": "40",
        }
    )
    # Then they become typed props
    assert props.deletion_protection is False
    assert props.api == "function_url"
    assert props.allowed_destination_hosts == ("example.com", "hooks.example.org")
    assert props.max_dispatch_concurrency == 20
    assert props.dispatch_reserved_concurrency == 40
    # And cdk.json's JSON values give the same result
    assert (
        _from_context(
            {
                "duetime:sandbox": True,
                "duetime:api": "function_url",
                "duetime:allowedHosts": ["example.com", "hooks.example.org"],
                "duetime:maxDispatchConcurrency": 20,
                "duetime:dispatchReservedConcurrency": 40,
            }
        )
        == props
    )


def test_reserved_concurrency_is_unset_unless_given() -> None:
    assert DuetimeProps().dispatch_reserved_concurrency is None
    assert (
        _from_context({"duetime:dispatchReservedConcurrency": ""}).dispatch_reserved_concurrency
        is None
    )
    with pytest.raises(DuetimeConfigError, match="dispatch_reserved_concurrency must exceed"):
        _from_context({"duetime:dispatchReservedConcurrency": "50"})


def test_unknown_api_kind_in_context_is_an_error() -> None:
    with pytest.raises(DuetimeConfigError, match="duetime:api"):
        _from_context({"duetime:api": "rest_api"})
