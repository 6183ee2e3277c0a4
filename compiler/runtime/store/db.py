"""The store's database: one interface, two backends, and how times and rows are written.

:class:`Database` is what the store modules talk to: ``write(work)`` runs one short
transaction, ``locked(identity, agent, work)`` runs one transaction that holds the
agent's usage lock (the check of a cap and the reservation of its usage happen inside
it), ``read(sql)`` reads. SQL is written once, with ``?`` placeholders; the backends
differ only in what this module and :mod:`.postgres` hide:

- :class:`SqliteDatabase`: one file shared by every process of one host, in WAL mode.
  Every write is ``BEGIN IMMEDIATE`` (the file's write lock up front, so two writers never
  deadlock upgrading a read lock) with a busy timeout and retries; the usage lock is that
  same write lock.
- :class:`~.postgres.PostgresDatabase`: one server for a fleet (``postgresql://``),
  loaded only when such a URL is used.

Backend errors (corrupt file, lost server, lock wait past the deadline) leave this layer
as :class:`StoreUnavailable`, so the client can say "store failure" rather than guess.
Times are UTC, stored as fixed-width ISO strings so that comparing strings compares times.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ...errors import PolicyError, UsageError
from .schema import SCHEMA_VERSION, migration_statements

BUSY_TIMEOUT_MS = 5_000
WRITE_DEADLINE_S = 60.0
T = TypeVar("T")


class StoreError(PolicyError):
    """The store cannot do what was asked (missing approval, already resolved...)."""


class StoreUnavailable(StoreError):  # noqa: N818 - reads as what happened
    """The store itself failed: unreadable or corrupt file, lost server, lock timeout."""


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """One open transaction: what a store module's ``work`` function is given."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any: ...


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


def number(value: Any) -> Decimal:
    """A stored amount as an exact Decimal: SQLite hands back int or float (a float's
    shortest repr is the decimal that was written), PostgreSQL a Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


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
        raise UsageError(f"{url}: not a store URL; use sqlite:////abs/path/store.db, "
                         "sqlite:///relative/store.db or postgresql://user@host/db")
    rest = url[len(prefix):]
    return Path(rest) if rest.startswith("/") else Path.cwd() / rest


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


class Database:
    """What every backend offers; see the module docstring."""

    dialect = "sqlite"
    #: Exceptions of the driver that mean "the store failed".
    errors: tuple[type[BaseException], ...] = ()

    def write(self, work: Callable[[Tx], T]) -> T:
        raise NotImplementedError

    def locked(self, identity: str, agent: str, work: Callable[[Tx], T],
               deadline: float | None = None) -> T:
        """``work`` in one transaction holding the (identity, agent) usage lock, waiting
        for the lock until ``deadline`` (``time.monotonic()``) at most."""
        raise NotImplementedError

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def group_concat(self, expression: str) -> str:
        """SQL aggregating distinct values of ``expression`` into one comma-separated text."""
        return f"GROUP_CONCAT(DISTINCT {expression})"

    @property
    def path(self) -> Path | None:
        return None

    def describe(self) -> str:
        raise NotImplementedError


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def create_private(path: Path) -> None:
    """Create the store file readable and writable by its owner only (0600). SQLite gives
    the -wal and -shm files it creates next to it the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


class SqliteDatabase(Database):
    """One SQLite file; safe to share between threads and between processes.

    The connection is opened lazily and reopened after a fork (a connection must never
    cross a process boundary).
    """

    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: Path):
        self._path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> str:
        return str(self._path)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            create_private(self._path)
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._retry(lambda: self._setup(conn))
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a commit survives a killed process
        if self._version(conn) < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                migrate(self, conn, self._version(conn), SCHEMA_VERSION)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        """The schema version: the schema_version table, or (stores of version 1, before
        that table) SQLite's user_version."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                        " AND name = 'schema_version'").fetchone():
            return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
                       or 0)
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def _retry(self, work: Callable[[], T], deadline: float | None = None) -> T:
        """Run ``work``, retrying while another process holds the write lock."""
        deadline = deadline if deadline is not None else time.monotonic() + WRITE_DEADLINE_S
        delay = 0.002
        while True:
            try:
                return work()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(min(delay * (1 + random.random()), max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.05)

    def _begin(self, conn: sqlite3.Connection, deadline: float | None) -> None:
        """Take the file's write lock, polling every millisecond or two until ``deadline``.

        SQLite's own busy handler sleeps longer and longer (up to 100 ms) between tries,
        so under contention a waiter loses every race to the process that just committed
        and tries again at once: it could starve past its deadline. Short, jittered polls
        keep the waiters in the race.
        """
        deadline = deadline if deadline is not None else time.monotonic() + WRITE_DEADLINE_S
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc) or time.monotonic() > deadline:
                        raise
                time.sleep(0.0005 + random.random() * 0.0015)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _transaction(self, work: Callable[[Tx], T], deadline: float | None) -> T:
        try:
            with self._lock:
                conn = self._connection()
                self._begin(conn, deadline)
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"store {self._path}: {exc}") from exc

    def write(self, work: Callable[[Tx], T]) -> T:
        return self._transaction(work, None)

    def locked(self, identity: str, agent: str, work: Callable[[Tx], T],
               deadline: float | None = None) -> T:
        # SQLite has one write lock per file: holding it serialises every agent of the
        # host, which is what a per-agent lock needs (and costs one OPA call per holder).
        return self._transaction(work, deadline)

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        try:
            with self._lock:
                conn = self._connection()
                return self._retry(lambda: conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"store {self._path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def migrate(db: Database, tx: Tx, current: int, target: int = SCHEMA_VERSION) -> None:
    """Bring the schema from version ``current`` to ``target``, inside ``tx``."""
    for version in range(current + 1, target + 1):
        for statement in migration_statements(version, db.dialect):
            tx.execute(statement)
        tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL,"
                   " applied_at TEXT NOT NULL)")
        tx.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                   (version, stamp(utcnow())))
