"""policypacks: compile YAML policy packs into OPA bundles; ask OPA from agents.

The public API, imported lazily so that an agent importing :class:`PolicyClient` does not
load the compiler (Jinja2, YAML) and a build does not load the HTTP client:

- agents: :class:`PolicyClient`, :class:`Decision`, :class:`PolicyBlocked`,
  :class:`ApprovalRequired`, :class:`ApprovalRequest`, :func:`open_store`;
  tools: :class:`ToolGuard` (``client.guard``), :class:`ApprovalDenied`;
- build verbs: :func:`validate_repository` (a path to a validated ``Repository``),
  :func:`compile_path` (to a ``CompiledPolicy``), :func:`write_bundle`;
- errors: :class:`PolicyError` and its kinds, each with the place it was made.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import OpaError, PolicyError, UsageError, ValidationFailed

#: public name -> the module (relative to this package) that defines it
_LAZY = {
    "PolicyClient": ".runtime.client",
    "Decision": ".runtime.client",
    "PolicyBlocked": ".runtime.client",
    "ApprovalRequired": ".runtime.client",
    "ApprovalRequest": ".runtime.client",
    "ApprovalDenied": ".runtime.guard",
    "ToolGuard": ".runtime.guard",
    "open_store": ".runtime.store",
    "Store": ".runtime.store",
    "StoreError": ".runtime.store",
    "validate_repository": ".validate",
    "compile_path": ".pipeline",
    "write_bundle": ".bundle",
}

__all__ = [*_LAZY, "OpaError", "PolicyError", "UsageError", "ValidationFailed"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'policypacks' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
