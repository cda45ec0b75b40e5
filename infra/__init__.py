"""duetime on AWS: the reusable `Duetime` construct and the stack `app.py` deploys."""

from __future__ import annotations

from infra.config import ApiKind, DuetimeProps, props_from_context
from infra.construct import Duetime
from infra.stack import DuetimeStack

__all__ = ["ApiKind", "Duetime", "DuetimeProps", "DuetimeStack", "props_from_context"]
