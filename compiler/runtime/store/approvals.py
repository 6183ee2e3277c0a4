"""Approval requests: pending requests that humans approve or deny, for
``policypacks approvals``; a request past its timeout resolves to its route's fallback."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ...errors import UsageError
from ...vocabulary import APPROVAL_STATUSES, DEFAULT_APPROVAL_TIMEOUT, FALLBACKS
from .audit import redact
from .db import Database, StoreError, dump, filters, stamp


class ApprovalNotFound(StoreError):
    pass


class ApprovalAlreadyResolved(StoreError):
    pass


def _approval_dict(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    for key in ("action", "violations", "approvers"):
        item[key] = json.loads(item[key])
    return item


class Approvals:
    def __init__(self, db: Database, now: Callable[[], datetime]):
        self.db, self.now = db, now

    def create(self, identity: str, agent: str, action: dict[str, Any],
               decision: dict[str, Any], decision_id: str | None = None,
               keep_text: bool = False) -> dict[str, Any]:
        """A pending request for a ``require_approval`` decision, routed as OPA said
        (approvers, timeout, fallback: SPEC section 5)."""
        if decision.get("decision") != "require_approval":
            raise StoreError(f"only a require_approval decision needs an approval, "
                             f"not {decision.get('decision')!r}")
        route = decision.get("approval") or {}
        timeout = int(route.get("timeout_seconds", DEFAULT_APPROVAL_TIMEOUT))
        fallback = route.get("fallback") if route.get("fallback") in FALLBACKS else "block"
        created = self.now()
        approval_id = "apr-" + secrets.token_hex(6)
        kept = action if keep_text else redact(action)
        row = (approval_id, stamp(created), stamp(created + timedelta(seconds=timeout)),
               identity, agent, action.get("type"), dump(kept),
               decision_id or decision.get("decision_id"), decision.get("revision"),
               dump(decision.get("violations") or []), dump(route.get("approvers") or []),
               timeout, fallback, route.get("route"))
        self.db.write(lambda c: c.execute(
            "INSERT INTO approvals (id, created_at, expires_at, identity, agent, action_type,"
            " action, decision_id, revision, violations, approvers, timeout_seconds, fallback,"
            " route, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')", row))
        found = self.get(approval_id)
        assert found is not None
        return found

    def expire(self) -> None:
        """Resolve every pending request past its timeout to its fallback."""
        now = stamp(self.now())
        self.db.write(lambda c: c.execute(
            "UPDATE approvals SET status = 'expired', outcome = fallback,"
            " resolved_by = 'timeout', resolved_at = expires_at"
            " WHERE status = 'pending' AND expires_at <= ?", (now,)))

    def get(self, approval_id: str) -> dict[str, Any] | None:
        self.expire()
        rows = self.db.read("SELECT * FROM approvals WHERE id = ?", [approval_id])
        return _approval_dict(rows[0]) if rows else None

    def list(self, status: str | None = None, agent: str | None = None,
             identity: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in APPROVAL_STATUSES:
            raise UsageError(f"status {status!r}: one of {', '.join(APPROVAL_STATUSES)}")
        self.expire()
        where, params = filters(identity=identity, agent=agent, status=status)
        rows = self.db.read(f"SELECT * FROM approvals {where} ORDER BY created_at DESC, id",
                            params)
        return [_approval_dict(r) for r in rows]

    def resolve(self, approval_id: str, status: str, by: str) -> dict[str, Any]:
        """Approve or deny a pending request, recording who and when."""
        if status not in ("approved", "denied"):
            raise UsageError(f"status {status!r}: approved or denied")
        if not by or not by.strip():
            raise UsageError("say who resolves the request (--by NAME)")
        self.expire()
        outcome = "allow" if status == "approved" else "block"
        now = stamp(self.now())

        def resolve(conn: sqlite3.Connection) -> str | None:
            found = conn.execute("SELECT status FROM approvals WHERE id = ?",
                                 (approval_id,)).fetchone()
            if found is None:
                return None
            if found[0] != "pending":
                return str(found[0])
            conn.execute("UPDATE approvals SET status = ?, outcome = ?, resolved_by = ?,"
                         " resolved_at = ? WHERE id = ?",
                         (status, outcome, by.strip(), now, approval_id))
            return "pending"
        before = self.db.write(resolve)
        if before is None:
            raise ApprovalNotFound(f"no approval request {approval_id}")
        if before != "pending":
            raise ApprovalAlreadyResolved(f"approval request {approval_id} is already {before}")
        result = self.get(approval_id)
        assert result is not None
        return result
