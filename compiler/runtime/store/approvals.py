"""Approval requests: pending requests that the humans the route names approve or deny,
for ``policypacks approvals``; a request past its timeout resolves to its fallback.

Who may resolve: a name in the route's ``approvers`` or in the identity's
``escalation.admins`` (both carried by the decision's ``approval`` object), and never
the requesting agent. An approved request is redeemed once, by the agent that asked,
for the very action it asked about (the canonical digest of the action is stored with
the request), before its expiry.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ...errors import EXIT_BAD_INPUT, UsageError
from ...vocabulary import APPROVAL_STATUSES, DEFAULT_APPROVAL_TIMEOUT, FALLBACKS
from ..values import digest as action_digest
from .audit import redact
from .db import Database, StoreError, Tx, dump, filters, parse_stamp, stamp


class ApprovalNotFound(StoreError):
    pass


class ApprovalAlreadyResolved(StoreError):
    pass


class ApprovalRefused(StoreError):  # noqa: N818 - reads as what happened
    """Who tried to resolve the request may not (not an approver, or the agent itself)."""

    exit_code = EXIT_BAD_INPUT


class ApprovalNotRedeemable(StoreError):  # noqa: N818
    """The request cannot admit this action (not approved, used, expired, other action)."""


SELECT = ("SELECT a.*, r.at AS redeemed_at, r.decision_id AS redeemed_decision"
          " FROM approvals a LEFT JOIN approval_redemptions r ON r.approval_id = a.id")


def _approval_dict(row: Any, now: str) -> dict[str, Any]:
    """A stored request as it stands at ``now``: a pending one past its expiry has
    resolved to its fallback. That is computed, never written, so nobody (an agent
    reading its requests included) needs the right to change a request's status."""
    item = dict(row)
    for key in ("action", "violations", "approvers", "admins"):
        item[key] = json.loads(item[key])
    if item["status"] == "pending" and item["expires_at"] <= now:
        item.update(status="expired", outcome=item["fallback"], resolved_by="timeout",
                    resolved_at=item["expires_at"])
    return item


def _status_filter(status: str | None, now: str) -> tuple[str, list[Any]]:
    if status == "pending":
        return "a.status = 'pending' AND a.expires_at > ?", [now]
    if status == "expired":
        return "(a.status = 'expired' OR (a.status = 'pending' AND a.expires_at <= ?))", [now]
    if status is not None:
        return "a.status = ?", [status]
    return "", []


def redeem_until(request: dict[str, Any]) -> str | None:
    """Until when an allowing request may be redeemed (None: it does not allow).

    An approved request: until it expires. An expired one whose fallback is ``allow``:
    for one more timeout after its expiry (the fallback is the answer, and the agent
    needs time to come back for it).
    """
    if request["outcome"] != "allow":
        return None
    if request["status"] == "approved":
        return str(request["expires_at"])
    expires = parse_stamp(request["expires_at"])
    return stamp(expires + timedelta(seconds=int(request["timeout_seconds"])))


class Approvals:
    def __init__(self, db: Database, now: Callable[[], datetime]):
        self.db, self.now = db, now

    def create(self, identity: str, agent: str, action: dict[str, Any],
               decision: dict[str, Any], decision_id: str | None = None,
               keep_text: bool = False) -> dict[str, Any]:
        """A pending request for a ``require_approval`` decision, routed as OPA said
        (approvers, admins, timeout, fallback: SPEC section 5)."""
        if decision.get("decision") != "require_approval":
            raise StoreError(f"only a require_approval decision needs an approval, "
                             f"not {decision.get('decision')!r}")
        route = decision.get("approval") or {}
        timeout = int(route.get("timeout_seconds", DEFAULT_APPROVAL_TIMEOUT))
        fallback = route.get("fallback") if route.get("fallback") in FALLBACKS else "block"
        created = self.now()
        approval_id = "apr-" + secrets.token_hex(8)
        kept = action if keep_text else redact(action)
        names = [str(n) for n in route.get("approvers") or []]
        admins = [str(n) for n in route.get("admins") or []]
        row = (approval_id, stamp(created), stamp(created + timedelta(seconds=timeout)),
               identity, agent, action.get("type"), dump(kept),
               decision_id or decision.get("decision_id"), decision.get("revision"),
               dump(decision.get("violations") or []), dump(names), dump(admins),
               timeout, fallback, route.get("route"), action_digest(action))
        self.db.write(lambda c: c.execute(
            "INSERT INTO approvals (id, created_at, expires_at, identity, agent, action_type,"
            " action, decision_id, revision, violations, approvers, admins, timeout_seconds,"
            " fallback, route, digest, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')", row))
        found = self.get(approval_id)
        assert found is not None
        return found

    def _fetch(self, approval_id: str, tx: Tx | None = None) -> dict[str, Any] | None:
        sql, params = f"{SELECT} WHERE a.id = ?", (approval_id,)
        rows = tx.execute(sql, params).fetchall() if tx is not None \
            else self.db.read(sql, params)
        return _approval_dict(rows[0], stamp(self.now())) if rows else None

    def get(self, approval_id: str) -> dict[str, Any] | None:
        return self._fetch(approval_id)

    def list(self, status: str | None = None, agent: str | None = None,
             identity: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in APPROVAL_STATUSES:
            raise UsageError(f"status {status!r}: one of {', '.join(APPROVAL_STATUSES)}")
        now = stamp(self.now())
        where, params = filters("a.", identity=identity, agent=agent)
        clause, more = _status_filter(status, now)
        if clause:
            where = f"{where} AND {clause}" if where else f"WHERE {clause}"
        rows = self.db.read(f"{SELECT} {where} ORDER BY a.created_at DESC, a.id",
                            [*params, *more])
        return [_approval_dict(r, now) for r in rows]

    def resolve(self, approval_id: str, status: str, by: str) -> dict[str, Any]:
        """Approve or deny a pending request, recording who and when; only a listed
        approver or admin may, and never the agent that asked."""
        if status not in ("approved", "denied"):
            raise UsageError(f"status {status!r}: approved or denied")
        if not by or not by.strip():
            raise UsageError("say who resolves the request (--by NAME)")
        who = by.strip()
        outcome = "allow" if status == "approved" else "block"
        now = stamp(self.now())

        def resolve(tx: Tx) -> None:
            request = self._fetch(approval_id, tx)
            if request is None:
                raise ApprovalNotFound(f"no approval request {approval_id}")
            if who == request["agent"]:
                raise ApprovalRefused(f"{who!r} is the agent that asked: an agent never "
                                      f"resolves its own approval request {approval_id}")
            allowed = [*request["approvers"], *request["admins"]]
            if who not in allowed:
                listed = (f"approvers: {', '.join(map(repr, request['approvers'])) or 'none'}; "
                          f"admins: {', '.join(map(repr, request['admins'])) or 'none'}")
                raise ApprovalRefused(  # names quoted: recorded text never reaches a terminal raw
                    f"{who!r} may not resolve {approval_id} ({listed}); "
                    + ("nobody may, so it resolves to its fallback at its timeout"
                       if not allowed else "ask one of them"))
            if request["status"] != "pending":
                raise ApprovalAlreadyResolved(
                    f"approval request {approval_id} is already {request['status']}")
            tx.execute("UPDATE approvals SET status = ?, outcome = ?, resolved_by = ?,"
                       " resolved_at = ? WHERE id = ? AND status = 'pending'",
                       (status, outcome, who, now, approval_id))
        self.db.write(resolve)
        result = self.get(approval_id)
        assert result is not None
        return result

    def redeem(self, tx: Tx, approval_id: str, identity: str, agent: str,
               action: dict[str, Any], decision_id: str | None) -> dict[str, Any]:
        """Mark an allowing request used by this action, inside ``tx``; raise
        :class:`ApprovalNotRedeemable` with the reason when it cannot be."""
        request = self._fetch(approval_id, tx)
        if request is None:
            raise ApprovalNotRedeemable(f"no approval request {approval_id}")
        if (request["identity"], request["agent"]) != (identity, agent):
            raise ApprovalNotRedeemable(f"approval {approval_id} was asked by "
                                        f"{request['identity']}/{request['agent']}")
        if request["redeemed_at"]:
            raise ApprovalNotRedeemable(f"approval {approval_id} was already used at "
                                        f"{request['redeemed_at']}")
        until = redeem_until(request)
        if until is None:
            raise ApprovalNotRedeemable(f"approval {approval_id} is {request['status']}"
                                        + (f" (outcome {request['outcome']})"
                                           if request["outcome"] else ""))
        now = stamp(self.now())
        if now >= until:
            raise ApprovalNotRedeemable(f"approval {approval_id} could be used until {until}")
        if request["digest"] != action_digest(action):
            raise ApprovalNotRedeemable(f"approval {approval_id} is for another action "
                                        "(the action differs from the one approved)")
        tx.execute("INSERT INTO approval_redemptions (approval_id, at, decision_id)"
                   " VALUES (?, ?, ?)", (approval_id, now, decision_id or ""))
        request.update(redeemed_at=now, redeemed_decision=decision_id or "")
        return request
