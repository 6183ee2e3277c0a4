"""Where the examples find OPA and their store (a fresh one by default)."""

from __future__ import annotations

import os
import tempfile

OPA_URL = os.environ.get("POLICYPACKS_OPA_URL", "http://127.0.0.1:8181")
STORE = os.environ.get("POLICYPACKS_STORE") or f"sqlite:///{tempfile.mkdtemp()}/agent.db"
