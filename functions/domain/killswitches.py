"""Kill-switch rules: which scopes exist and which switch blocks new work. Pure."""

from __future__ import annotations

import re

from functions.domain.errors import DuetimeError, ValidationError

ALL = "all"
_FLOWS = re.compile(r"flows:[A-Za-z0-9_.:-]{0,128}")


class SwitchedOffError(DuetimeError):
    """503: a kill switch forbids arming new work."""

    status_code = 503


def validate_scope(scope: str) -> str:
    if scope == ALL or _FLOWS.fullmatch(scope):
        return scope
    raise ValidationError(f"kill switch scope must be 'all' or 'flows:<prefix>', got {scope!r}")


def blocking(scopes: frozenset[str], *, flow_id: str | None = None) -> str | None:
    """The switch that blocks new work (for a flow when `flow_id` is given), if any is on."""
    if ALL in scopes:
        return ALL
    if flow_id is not None:
        for scope in sorted(scopes):
            if scope.startswith("flows:") and flow_id.startswith(scope.removeprefix("flows:")):
                return scope
    return None
