"""policypacks: compile YAML policy packs into OPA bundles; ask OPA from agents.

The agent-facing names are imported lazily, so the compiler and the CLI do not pay for
``requests`` and ``sqlite3`` unless a client is used.
"""

from __future__ import annotations

from typing import Any

_CLIENT = ("PolicyClient", "Decision", "PolicyBlocked", "ApprovalRequired", "ApprovalRequest")
__all__ = [*_CLIENT, "open_store"]


def __getattr__(name: str) -> Any:
    if name in _CLIENT:
        from . import client
        return getattr(client, name)
    if name == "open_store":
        from .store import open_store
        return open_store
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")
