"""The fleet store: one PostgreSQL database shared by every replica of every agent.

Loaded only for a ``postgresql://`` URL (psycopg 3 and psycopg_pool are the optional
extra ``policypacks[postgres]``). Same schema and SQL as SQLite (:mod:`.schema`); what
differs is here:

- a connection pool per process (re-created after a fork);
- the usage lock is ``pg_advisory_xact_lock`` on the (identity, agent) pair, taken first
  in the transaction and released by its commit or rollback, so replicas of one agent on
  different machines take turns while different agents never wait for each other. The
  transaction is READ COMMITTED on purpose: each statement after the lock sees every
  commit made before the lock was granted (a REPEATABLE READ snapshot would be taken by
  the lock statement itself, before the wait, and miss them). ``lock_timeout`` bounds the
  wait by the caller's deadline;
- migrations run under a fixed advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ...errors import UsageError
from .db import Database, StoreUnavailable, Tx, migrate

T = TypeVar("T")
MIGRATION_LOCK = 0x706F6C6963  # any fixed number: "polic"
POOL_TIMEOUT_S = 10.0

try:  # an optional extra: a clear message when it is missing, at use, not at import
    import psycopg
    import psycopg_pool
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]
    psycopg_pool = None  # type: ignore[assignment]


class Row(tuple[Any, ...]):
    """A result row readable by position and by column name, like ``sqlite3.Row``."""

    names: tuple[str, ...]

    def __new__(cls, values: Sequence[Any], names: tuple[str, ...]) -> Row:
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = tuple(c.name for c in cursor.description or ())
    return lambda values: Row(values, names)


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


def _first(cursor: Any) -> Any:
    row = cursor.fetchone()
    return row[0] if row is not None else None


class _Tx:
    def __init__(self, conn: Any):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(_placeholders(sql), tuple(params))

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any:
        rows = [tuple(p) for p in params]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, max_size: int = 4):
        if psycopg is None or psycopg_pool is None:
            raise UsageError(f"{redact_url(url)}: a PostgreSQL store needs psycopg 3 and "
                             "psycopg_pool: pip install 'policypacks[postgres]'")
        self.url, self.max_size = url, max_size
        self.errors = (psycopg.Error, psycopg_pool.PoolTimeout)
        self._lock = threading.Lock()
        self._pool: Any = None
        self._pid = 0

    def describe(self) -> str:
        return redact_url(self.url)

    def group_concat(self, expression: str) -> str:
        return f"string_agg(DISTINCT {expression}, ',')"

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                pool = psycopg_pool.ConnectionPool(
                    self.url, min_size=1, max_size=self.max_size, open=False,
                    kwargs={"row_factory": _row_factory, "connect_timeout": 10},
                    timeout=POOL_TIMEOUT_S, name="policypacks-store")
                pool.open(wait=False)
                try:
                    with pool.connection() as conn, conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                        current = 0
                        if _first(conn.execute("SELECT to_regclass('schema_version')")):
                            current = int(_first(conn.execute(
                                "SELECT COALESCE(MAX(version), 0) FROM schema_version")))
                        migrate(self, _Tx(conn), current)
                except BaseException:
                    pool.close()
                    raise
                self._pool, self._pid = pool, os.getpid()
            return self._pool

    def _transaction(self, work: Callable[[Tx], T], key: tuple[str, str] | None,
                     deadline: float | None) -> T:
        try:
            pool = self._get_pool()
            wait = POOL_TIMEOUT_S if deadline is None else max(0.001,
                                                                deadline - time.monotonic())
            with pool.connection(timeout=wait) as conn, conn.transaction():
                if key is not None:
                    if deadline is not None:
                        conn.execute("SELECT set_config('lock_timeout', %s, true)",
                                     (f"{max(1, int((deadline - time.monotonic()) * 1000))}ms",))
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", key)
                return work(_Tx(conn))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailable(f"store {self.describe()}: {exc}".strip()) from exc

    def write(self, work: Callable[[Tx], T]) -> T:
        return self._transaction(work, None, None)

    def locked(self, identity: str, agent: str, work: Callable[[Tx], T],
               deadline: float | None = None) -> T:
        return self._transaction(work, (identity, agent), deadline)

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self._transaction(lambda tx: tx.execute(sql, tuple(params)).fetchall(),
                                 None, None)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
