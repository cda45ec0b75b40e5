"""cdk-nag suppressions, each with the reason it is safe, next to the resource it covers."""

from __future__ import annotations

from collections.abc import Sequence

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

# cdk-nag refuses reasons shorter than this; ours say why the finding is acceptable here.
MIN_REASON_LENGTH = 10


def suppress(
    construct: IConstruct,
    rule_id: str,
    reason: str,
    *,
    applies_to: Sequence[str | RegexAppliesTo] = (),
    apply_to_children: bool = False,
) -> None:
    """Suppress one AwsSolutions rule on `construct`, limited to `applies_to` findings if given."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"suppression of {rule_id} needs a real reason, got {reason!r}")
    suppression = (
        NagPackSuppression(id=rule_id, reason=reason, applies_to=list(applies_to))
        if applies_to
        else NagPackSuppression(id=rule_id, reason=reason)
    )
    NagSuppressions.add_resource_suppressions(
        construct, [suppression], apply_to_children=apply_to_children
    )
