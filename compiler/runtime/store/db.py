"""The store's SQLite file: connection, schema, WAL and retries, and how times are written.

Several agent processes write to one file at once, so every write is one short
``BEGIN IMMEDIATE`` transaction in WAL mode with a busy timeout, retried with backoff
when SQLite still answers "database is locked". Times are UTC, stored as fixed-width ISO
strings so that comparing strings compares times.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ...errors import PolicyError, UsageError

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


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def filters(prefix: str = "", since: datetime | None = None,
            **equal: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause for the given equalities (None: no constraint) and ``at >= since``."""
    clauses, params = [], []
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{prefix}{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append(f"{prefix}at >= ?")
        params.append(stamp(since))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def store_path(url: str) -> Path:
    """``sqlite:////abs/path.db`` (four slashes: absolute) or ``sqlite:///rel.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise UsageError(f"{url}: not a store URL; use sqlite:///path/to/store.db")
    rest = url[len(prefix):]
    return Path(rest) if rest.startswith("/") else Path.cwd() / rest


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """One SQLite file; safe to share between threads and between processes.

    The connection is opened lazily and reopened after a fork (a connection must never
    cross a process boundary).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The audit trail is the agents' business only: created 0600 (SQLite gives
            # its -wal and -shm files the same mode).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
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

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
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

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connection()
            return self._retry(lambda: conn.execute(sql, tuple(params)).fetchall())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
