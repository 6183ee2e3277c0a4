"""The audit trail: every non-allow decision with its violations, for
``policypacks violations``; the free text an agent wrote is kept redacted by default."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .db import Database, Tx, dump, filters, stamp

#: What ``redact`` hides: the free text an agent wrote (labels and numbers stay readable).
FREE_TEXT = ("text", "subject")
#: What a violation row is: counted for its decision, reported by a shadow-mode rule, or
#: lifted by a waiver; and the decision document's list each comes from.
KINDS = {"enforced": "violations", "shadow": "shadow", "waived": "waived"}


def redact(action: dict[str, Any]) -> dict[str, Any]:
    """The action with its free text (``content.text`` and ``content.subject``) replaced
    by its length.

    Message text and subjects are what an agent wrote for a customer; the audit trail
    needs to know that a text was refused, not to keep a copy of it. Everything else stays
    readable, so that an approver sees what they approve: the tone label, the topics, the
    amount, the recipient, the attachments' names.
    """
    content = action.get("content") if isinstance(action, dict) else None
    if not isinstance(content, dict):
        if isinstance(content, str):  # malformed, but still free text
            return {**action, "content": f"[redacted: {len(content)} chars]"}
        return action
    scrubbed = {key: f"[redacted: {len(value)} chars]" if isinstance(value, str)
                else "[redacted]" if value is not None else None
                for key, value in content.items() if key in FREE_TEXT}
    return {**action, "content": {**content, **scrubbed}}


def _listed(decision: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = decision.get(key)
    return [v for v in items if isinstance(v, dict)] if isinstance(items, list) else []


def _waiver_id(violation: dict[str, Any]) -> str | None:
    waiver = violation.get("waiver")
    ident = waiver.get("id") if isinstance(waiver, dict) else None
    return ident if isinstance(ident, str) else None


def _decision_dict(row: Any) -> dict[str, Any]:
    item = dict(row)
    for key in ("action", "violations", "approval"):
        item[key] = json.loads(item[key]) if item[key] is not None else None
    return item


class Audit:
    def __init__(self, db: Database, now: Callable[[], datetime]):
        self.db, self.now = db, now

    def record_decision(self, identity: str, agent: str, action: dict[str, Any],
                        decision: dict[str, Any], decision_id: str | None = None,
                        incident: str | None = None, keep_text: bool = False,
                        at: datetime | None = None, tx: Tx | None = None) -> int:
        """Store a decision (the client sends every one that is not a plain allow) and one
        row per violation, shadow-mode report and waived violation (``kind``), inside
        ``tx`` when given; returns the decision's row id."""
        when = stamp(at or self.now())
        kept = action if keep_text else redact(action)
        found = _listed(decision, "violations")
        rows = [(kind, v) for kind, key in KINDS.items() for v in _listed(decision, key)]
        action_type = action.get("type") if isinstance(action, dict) else None

        def insert(conn: Tx) -> int:
            row = int(conn.execute(
                "INSERT INTO decisions (at, identity, agent, action_type, decision, revision,"
                " decision_id, incident, action, violations, approval)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (when, identity, agent, action_type, str(decision.get("decision")),
                 decision.get("revision"), decision_id, incident, dump(kept), dump(found),
                 dump(decision.get("approval")))).fetchone()[0])
            conn.executemany(
                "INSERT INTO violations (decision_row, at, identity, agent, pack, rule, type,"
                " category, enforcement, level, message, kind, waiver)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(row, when, identity, agent, v.get("pack"), v.get("rule"), v.get("type"),
                  v.get("category"), v.get("enforcement"), v.get("level"), v.get("message"),
                  kind, _waiver_id(v)) for kind, v in rows])
            return row
        return insert(tx) if tx is not None else self.db.write(insert)

    def decision(self, row: int) -> dict[str, Any] | None:
        rows = self.db.read("SELECT * FROM decisions WHERE id = ?", [row])
        return _decision_dict(rows[0]) if rows else None

    def decisions(self, identity: str | None = None, agent: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
        where, params = filters(identity=identity, agent=agent)
        sql = f"SELECT * FROM decisions {where} ORDER BY at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_decision_dict(r) for r in self.db.read(sql, params)]

    def violations(self, identity: str | None = None, agent: str | None = None,
                   pack: str | None = None, enforcement: str | None = None,
                   since: datetime | None = None, limit: int | None = None,
                   kind: str = "enforced") -> list[dict[str, Any]]:
        """Recorded violations of one ``kind`` (KINDS), newest first, with their
        decision's context."""
        where, params = filters("v.", identity=identity, agent=agent, pack=pack,
                                enforcement=enforcement, since=since, kind=kind)
        sql = ("SELECT v.*, d.decision, d.decision_id, d.revision, d.action_type, d.incident"
               f" FROM violations v JOIN decisions d ON d.id = v.decision_row {where}"
               " ORDER BY v.at DESC, v.id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [{k: row[k] for k in row.keys() if k != "id"} for row in self.db.read(sql, params)]

    def violation_stats(self, identity: str | None = None, agent: str | None = None,
                        pack: str | None = None, enforcement: str | None = None,
                        since: datetime | None = None,
                        kind: str = "enforced") -> list[dict[str, Any]]:
        """Counts per pack/rule/agent with a per-day breakdown; the noisiest rule first
        (by its total over all agents), then its noisiest agent. ``allowed`` counts the
        rows whose decision let the action go ahead (allow or warn): for shadow rows,
        the actions a promotion would newly stop."""
        where, params = filters("v.", identity=identity, agent=agent, pack=pack,
                                enforcement=enforcement, since=since, kind=kind)
        rows = self.db.read(
            "SELECT v.pack, v.rule, v.agent, substr(v.at, 1, 10) AS day, COUNT(*) AS n,"
            " MIN(v.at) AS first, MAX(v.at) AS last,"
            " SUM(CASE WHEN d.decision IN ('allow', 'warn') THEN 1 ELSE 0 END) AS allowed,"
            f" {self.db.group_concat('v.enforcement')} AS levels"
            " FROM violations v JOIN decisions d ON d.id = v.decision_row"
            f" {where} GROUP BY v.pack, v.rule, v.agent, day", params)
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in rows:
            key = (r["pack"], r["rule"], r["agent"])
            item = groups.setdefault(key, {"pack": r["pack"], "rule": r["rule"],
                                           "agent": r["agent"], "count": 0, "first": r["first"],
                                           "last": r["last"], "enforcement": set(),
                                           "allowed": 0, "per_day": {}})
            item["count"] += r["n"]
            item["allowed"] += int(r["allowed"] or 0)
            item["first"] = min(item["first"], r["first"])
            item["last"] = max(item["last"], r["last"])
            item["enforcement"].update((r["levels"] or "").split(","))
            item["per_day"][r["day"]] = r["n"]
        totals: dict[tuple[str, str], int] = {}
        for (p, rule, _), item in groups.items():
            totals[(p, rule)] = totals.get((p, rule), 0) + item["count"]
        out = []
        for (p, rule, _), item in groups.items():
            item["rule_total"] = totals[(p, rule)]
            item["enforcement"] = sorted(e for e in item["enforcement"] if e)
            item["per_day"] = dict(sorted(item["per_day"].items()))
            out.append(item)
        out.sort(key=lambda i: (-i["rule_total"], i["pack"] or "", i["rule"] or "",
                                -i["count"], i["agent"]))
        return out
