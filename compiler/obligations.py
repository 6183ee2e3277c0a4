"""``policypacks.obligations``: applying a decision's obligations to the action (the
module lives with the agent runtime, which loads no compiler code)."""

from __future__ import annotations

from .runtime.obligations import FIELDS, ObligationError, apply

__all__ = ["FIELDS", "ObligationError", "apply"]
