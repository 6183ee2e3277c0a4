"""The agent's audit and usage store: one SQLite file, shared by every process of an agent.

Three things live here: **usage** (one row per action that really happened, so the client
can send OPA the ``usage`` document of SPEC section 4), **decisions** (every non-allow
decision with its violations, for ``policypacks violations``) and **approvals** (pending
requests that humans approve or deny, for ``policypacks approvals``).

Several agent processes write to one file at once, so every write is one short
``BEGIN IMMEDIATE`` transaction in WAL mode with a busy timeout, retried with backoff
when SQLite still answers "database is locked". Times are UTC, stored as fixed-width ISO
strings so that comparing strings compares times.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from .errors import PolicyError, UsageError

ENV_STORE = "POLICYPACKS_STORE"
DEFAULT_SPEND_ACTIONS = ("spend",)
DEFAULT_CURRENCY = "USD"
APPROVAL_STATUSES = ("pending", "approved", "denied", "expired")
ENFORCEMENTS = ("block", "require_approval", "warn")
BUSY_TIMEOUT_MS = 5_000
WRITE_DEADLINE_S = 60.0
SCHEMA_VERSION = 1
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_events (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, identity TEXT NOT NULL, agent TEXT NOT NULL,
  action_type TEXT NOT NULL, api TEXT, amount NUMERIC, currency TEXT);
CREATE INDEX IF NOT EXISTS usage_by_agent ON usage_events (identity, agent, at);
-- Running totals per calendar window, kept in the same transaction as each event, so that
-- reading the usage document costs a few rows however long the month's history is.
-- '' (not NULL) stands for "no API" / "no amount's currency", so upserts find their row.
CREATE TABLE IF NOT EXISTS usage_windows (
  identity TEXT NOT NULL, agent TEXT NOT NULL, window TEXT NOT NULL, start TEXT NOT NULL,
  action_type TEXT NOT NULL, api TEXT NOT NULL, currency TEXT NOT NULL,
  count INTEGER NOT NULL, amount NUMERIC NOT NULL,
  PRIMARY KEY (identity, agent, window, start, action_type, api, currency));
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, identity TEXT NOT NULL, agent TEXT NOT NULL,
  action_type TEXT, decision TEXT NOT NULL, revision TEXT, decision_id TEXT, incident TEXT,
  action TEXT NOT NULL, violations TEXT NOT NULL, approval TEXT);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions (at);
CREATE TABLE IF NOT EXISTS violations (
  id INTEGER PRIMARY KEY, decision_row INTEGER NOT NULL REFERENCES decisions(id),
  at TEXT NOT NULL, identity TEXT NOT NULL, agent TEXT NOT NULL, pack TEXT, rule TEXT,
  type TEXT, category TEXT, enforcement TEXT, level TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS violations_at ON violations (at);
CREATE INDEX IF NOT EXISTS violations_rule ON violations (pack, rule);
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
  identity TEXT NOT NULL, agent TEXT NOT NULL, action_type TEXT, action TEXT NOT NULL,
  decision_id TEXT, revision TEXT, violations TEXT NOT NULL, approvers TEXT NOT NULL,
  timeout_seconds INTEGER NOT NULL, fallback TEXT NOT NULL, route TEXT,
  status TEXT NOT NULL, outcome TEXT, resolved_by TEXT, resolved_at TEXT);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, expires_at);
"""


class StoreError(PolicyError):
    """The store cannot do what was asked (missing approval, already resolved...)."""


class ApprovalNotFound(StoreError):
    pass


class ApprovalAlreadyResolved(StoreError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC (what the store writes and the CLI reads)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stamp(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in SQL."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def windows(now: datetime) -> dict[str, datetime]:
    """Calendar windows (UTC): the start of the current minute, hour, day and month."""
    now = as_utc(now)
    minute = now.replace(second=0, microsecond=0)
    return {"minute": minute, "hour": minute.replace(minute=0),
            "day": minute.replace(minute=0, hour=0),
            "month": minute.replace(minute=0, hour=0, day=1)}


def redact(action: dict[str, Any]) -> dict[str, Any]:
    """The action with every string under ``content`` replaced by its length.

    Message text and subjects are what an agent wrote for a customer; the audit trail
    needs to know that a text was refused, not to keep a copy of it.
    """
    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return f"[redacted: {len(value)} chars]"
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    if not isinstance(action, dict) or "content" not in action:
        return action
    return {**action, "content": scrub(action["content"])}


def store_path(url: str) -> Path:
    """``sqlite:///abs/path.db`` (four slashes: absolute) or ``sqlite:///rel.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise UsageError(f"{url}: not a store URL; use sqlite:///path/to/store.db")
    rest = url[len(prefix):]
    return Path(rest) if rest.startswith("/") else Path.cwd() / rest


def open_store(url: str | None = None, create: bool = True,
               clock: Callable[[], datetime] = utcnow) -> Store:
    """The store at ``url``, or at ``$POLICYPACKS_STORE`` when no URL is given.

    ``create=False`` refuses a file that does not exist yet, so a mistyped path in a
    read-only command is an error rather than a new, empty audit trail.
    """
    url = url or os.environ.get(ENV_STORE)
    if not url:
        raise UsageError(f"no store: pass --store sqlite:///path/to/store.db or set {ENV_STORE}")
    path = store_path(url)
    if not create and not path.is_file():
        raise UsageError(f"{url}: no store at {path}")
    return Store(path, clock=clock)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Store:
    """One SQLite file; safe to share between threads and between processes.

    The connection is opened lazily and reopened after a fork (a connection must never
    cross a process boundary).
    """

    def __init__(self, path: Path, clock: Callable[[], datetime] = utcnow):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    # -- connection and transactions ---------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                self._retry(lambda: self._setup(conn))
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _retry(self, work: Callable[[], T]) -> T:
        """Run ``work``, retrying while another process holds the write lock."""
        deadline = time.monotonic() + WRITE_DEADLINE_S
        delay = 0.005
        while True:
            try:
                return work()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.25)

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """One short ``BEGIN IMMEDIATE`` transaction: the write lock is taken up front,
        so two writers never deadlock upgrading a read lock."""
        with self._lock:
            conn = self._connection()

            def attempt() -> T:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            return self._retry(attempt)

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connection()
            return self._retry(lambda: conn.execute(sql, tuple(params)).fetchall())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        return as_utc(self.clock())

    # -- usage -------------------------------------------------------------------------

    def record_usage(self, identity: str, agent: str, action: dict[str, Any],
                     at: datetime | None = None) -> None:
        """One event for one action that really happened: its type, its API (for
        ``api_call``-like actions) and its amount and currency (for spend caps)."""
        amount = action.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            amount = None
        currency = str(action.get("currency") or DEFAULT_CURRENCY).upper()
        api = action.get("api") if isinstance(action.get("api"), str) else None
        when = at or self.now()
        action_type = str(action.get("type", ""))
        row = (stamp(when), identity, agent, action_type, api, amount,
               currency if amount is not None else None)
        totals = [(identity, agent, window, stamp(start), action_type, api or "",
                   currency if amount is not None else "", amount or 0)
                  for window, start in windows(when).items()]

        # Totals of windows that have ended are never read again (the events stay).
        ended = [(identity, agent, window, stamp(start))
                 for window, start in windows(min(as_utc(when), self.now())).items()]

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO usage_events (at, identity, agent, action_type, api,"
                         " amount, currency) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            conn.executemany("DELETE FROM usage_windows WHERE identity = ? AND agent = ?"
                             " AND window = ? AND start < ?", ended)
            conn.executemany(
                "INSERT INTO usage_windows (identity, agent, window, start, action_type, api,"
                " currency, count, amount) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)"
                " ON CONFLICT DO UPDATE SET count = count + 1, amount = amount + excluded.amount",
                totals)

        self._write(insert)

    def usage(self, identity: str, agent: str, at: datetime | None = None,
              currency: str = DEFAULT_CURRENCY,
              spend_actions: Iterable[str] = DEFAULT_SPEND_ACTIONS) -> dict[str, Any]:
        """The SPEC ``usage`` document for the current UTC calendar windows.

        Spend is summed per currency (the one given: the client passes the action's) over
        the action types in ``spend_actions``; counts are per action type and per API, with
        ``apis["*"]`` counting every API call.
        """
        now = self.now() if at is None else as_utc(at)
        current = windows(now)
        # One primary-key lookup per window (an OR would scan the agent's rows).
        rows = self._read(" UNION ALL ".join(
            "SELECT window, action_type, api, currency, count, amount FROM usage_windows"
            " WHERE identity = ? AND agent = ? AND window = ? AND start = ?" for _ in current),
            [v for w, start in current.items() for v in (identity, agent, w, stamp(start))])
        # Events stamped after `now` (another process's clock runs ahead, or `at` is in
        # the past) are in the totals of their windows but have not happened yet here.
        ahead = [(window, action_type, api or "", row_currency or "", -1, -(amount or 0))
                 for at_text, action_type, api, row_currency, amount in self._read(
                     "SELECT at, action_type, api, currency, amount FROM usage_events"
                     " WHERE identity = ? AND agent = ? AND at > ? AND at < ?",
                     [identity, agent, stamp(now), stamp(next_month(current["month"]))])
                 for window, start in windows(parse_stamp(at_text)).items()
                 if start == current[window]]
        spend_types = set(spend_actions)
        spend = {"hour": 0, "day": 0, "month": 0}
        actions: dict[str, dict[str, int]] = {}
        apis: dict[str, dict[str, int]] = {}
        for window, action_type, api, row_currency, count, amount in [*rows, *ahead]:
            if window in spend and action_type in spend_types \
                    and row_currency == currency.upper():
                spend[window] += amount
            if window == "month":
                continue  # counts have minute, hour and day windows
            zero = {"minute": 0, "hour": 0, "day": 0}
            actions.setdefault(action_type, dict(zero))[window] += count
            if api:
                apis.setdefault(api, dict(zero))[window] += count
        actions = {k: v for k, v in actions.items() if any(v.values())}
        apis = {k: v for k, v in apis.items() if any(v.values())}
        apis["*"] = {w: sum(v[w] for v in apis.values()) for w in ("minute", "hour", "day")}
        return {"spend": spend, "actions": actions, "apis": apis}

    # -- decisions and violations ------------------------------------------------------

    def record_decision(self, identity: str, agent: str, action: dict[str, Any],
                        decision: dict[str, Any], decision_id: str | None = None,
                        incident: str | None = None, keep_text: bool = False,
                        at: datetime | None = None) -> int:
        """Store a decision (the client sends every non-allow one) and one row per
        violation; returns the decision's row id."""
        when = stamp(at or self.now())
        kept = action if keep_text else redact(action)
        found = [v for v in decision.get("violations") or [] if isinstance(v, dict)]
        action_type = action.get("type") if isinstance(action, dict) else None

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO decisions (at, identity, agent, action_type, decision, revision,"
                " decision_id, incident, action, violations, approval)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (when, identity, agent, action_type, str(decision.get("decision")),
                 decision.get("revision"), decision_id, incident, _dump(kept), _dump(found),
                 _dump(decision.get("approval"))))
            row = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO violations (decision_row, at, identity, agent, pack, rule, type,"
                " category, enforcement, level, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(row, when, identity, agent, v.get("pack"), v.get("rule"), v.get("type"),
                  v.get("category"), v.get("enforcement"), v.get("level"), v.get("message"))
                 for v in found])
            return row
        return self._write(insert)

    def decision(self, row: int) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM decisions WHERE id = ?", [row])
        return _decision_dict(rows[0]) if rows else None

    def decisions(self, identity: str | None = None, agent: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
        where, params = _filters(identity=identity, agent=agent)
        sql = f"SELECT * FROM decisions {where} ORDER BY at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_decision_dict(r) for r in self._read(sql, params)]

    def violations(self, identity: str | None = None, agent: str | None = None,
                   pack: str | None = None, enforcement: str | None = None,
                   since: datetime | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """Recorded violations, newest first, with their decision's context."""
        where, params = _filters("v.", identity=identity, agent=agent, pack=pack,
                                 enforcement=enforcement, since=since)
        sql = ("SELECT v.*, d.decision, d.decision_id, d.revision, d.action_type, d.incident"
               f" FROM violations v JOIN decisions d ON d.id = v.decision_row {where}"
               " ORDER BY v.at DESC, v.id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [{k: row[k] for k in row.keys() if k != "id"} for row in self._read(sql, params)]

    def violation_stats(self, identity: str | None = None, agent: str | None = None,
                        pack: str | None = None, enforcement: str | None = None,
                        since: datetime | None = None) -> list[dict[str, Any]]:
        """Counts per pack/rule/agent with a per-day breakdown; the noisiest rule first
        (by its total over all agents), then its noisiest agent."""
        where, params = _filters(identity=identity, agent=agent, pack=pack,
                                 enforcement=enforcement, since=since)
        rows = self._read(
            "SELECT pack, rule, agent, substr(at, 1, 10) AS day, COUNT(*) AS n,"
            " MIN(at) AS first, MAX(at) AS last, GROUP_CONCAT(DISTINCT enforcement) AS levels"
            f" FROM violations {where} GROUP BY pack, rule, agent, day", params)
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in rows:
            key = (r["pack"], r["rule"], r["agent"])
            item = groups.setdefault(key, {"pack": r["pack"], "rule": r["rule"],
                                           "agent": r["agent"], "count": 0, "first": r["first"],
                                           "last": r["last"], "enforcement": set(),
                                           "per_day": {}})
            item["count"] += r["n"]
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

    # -- approvals ---------------------------------------------------------------------

    def create_approval(self, identity: str, agent: str, action: dict[str, Any],
                        decision: dict[str, Any], decision_id: str | None = None,
                        keep_text: bool = False) -> dict[str, Any]:
        """A pending request for a ``require_approval`` decision, routed as OPA said
        (approvers, timeout, fallback: SPEC section 5)."""
        if decision.get("decision") != "require_approval":
            raise StoreError(f"only a require_approval decision needs an approval, "
                             f"not {decision.get('decision')!r}")
        route = decision.get("approval") or {}
        timeout = int(route.get("timeout_seconds", 24 * 3600))
        fallback = route.get("fallback") if route.get("fallback") in ("allow", "block") else "block"
        created = self.now()
        approval_id = "apr-" + secrets.token_hex(6)
        kept = action if keep_text else redact(action)
        row = (approval_id, stamp(created), stamp(created + timedelta(seconds=timeout)),
               identity, agent, action.get("type"), _dump(kept),
               decision_id or decision.get("decision_id"), decision.get("revision"),
               _dump(decision.get("violations") or []), _dump(route.get("approvers") or []),
               timeout, fallback, route.get("route"))
        self._write(lambda c: c.execute(
            "INSERT INTO approvals (id, created_at, expires_at, identity, agent, action_type,"
            " action, decision_id, revision, violations, approvers, timeout_seconds, fallback,"
            " route, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')", row))
        found = self.get_approval(approval_id)
        assert found is not None
        return found

    def _expire(self) -> None:
        """Resolve every pending request past its timeout to its fallback."""
        now = stamp(self.now())
        self._write(lambda c: c.execute(
            "UPDATE approvals SET status = 'expired', outcome = fallback,"
            " resolved_by = 'timeout', resolved_at = expires_at"
            " WHERE status = 'pending' AND expires_at <= ?", (now,)))

    def get_approval(self, approval_id: str) -> dict[str, Any] | None:
        self._expire()
        rows = self._read("SELECT * FROM approvals WHERE id = ?", [approval_id])
        return _approval_dict(rows[0]) if rows else None

    def list_approvals(self, status: str | None = None, agent: str | None = None,
                       identity: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in APPROVAL_STATUSES:
            raise UsageError(f"status {status!r}: one of {', '.join(APPROVAL_STATUSES)}")
        self._expire()
        where, params = _filters(identity=identity, agent=agent, status=status)
        rows = self._read(f"SELECT * FROM approvals {where} ORDER BY created_at DESC, id",
                          params)
        return [_approval_dict(r) for r in rows]

    def resolve_approval(self, approval_id: str, status: str, by: str) -> dict[str, Any]:
        """Approve or deny a pending request, recording who and when."""
        if status not in ("approved", "denied"):
            raise UsageError(f"status {status!r}: approved or denied")
        if not by or not by.strip():
            raise UsageError("say who resolves the request (--by NAME)")
        self._expire()
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
        before = self._write(resolve)
        if before is None:
            raise ApprovalNotFound(f"no approval request {approval_id}")
        if before != "pending":
            raise ApprovalAlreadyResolved(f"approval request {approval_id} is already {before}")
        result = self.get_approval(approval_id)
        assert result is not None
        return result


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _filters(prefix: str = "", since: datetime | None = None,
             **equal: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{prefix}{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append(f"{prefix}at >= ?")
        params.append(stamp(since))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _decision_dict(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    for key in ("action", "violations", "approval"):
        item[key] = json.loads(item[key]) if item[key] is not None else None
    return item


def _approval_dict(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    for key in ("action", "violations", "approvers"):
        item[key] = json.loads(item[key])
    return item
