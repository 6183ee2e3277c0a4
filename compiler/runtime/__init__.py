"""What an agent process imports: the client that asks the OPA sidecar, and its store.

Nothing here loads the compiler (Jinja2, YAML) or the CLI (click): an agent pays only
for ``requests`` and ``sqlite3``.
"""

from __future__ import annotations

from .client import (
    ApprovalRequest,
    ApprovalRequired,
    Decision,
    PolicyBlocked,
    PolicyClient,
)
from .guard import Admission, ApprovalDenied, ToolGuard
from .store import Store, StoreError, open_store

__all__ = ["Admission", "ApprovalDenied", "ApprovalRequest", "ApprovalRequired", "Decision",
           "PolicyBlocked", "PolicyClient", "Store", "StoreError", "ToolGuard", "open_store"]
