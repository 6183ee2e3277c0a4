"""The agent's store, behind one facade: usage for caps, the audit trail, approvals.

One SQLite file shared by every process of a host, or one PostgreSQL database shared by a
fleet (:mod:`.db`, :mod:`.postgres`: the backend differences live there); each job
lives in its own module (:mod:`.usage`, :mod:`.audit`, :mod:`.approvals`) and
:class:`Store` hands each call to the one that owns it. Calls that take ``tx`` run inside
a transaction opened by :meth:`Store.locked` (the client's check-and-reserve).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ...errors import UsageError
from ...vocabulary import APPROVAL_STATUSES, ENFORCEMENTS, ENV_STORE
from .approvals import (
    ApprovalAlreadyResolved,
    ApprovalNotFound,
    ApprovalNotRedeemable,
    ApprovalRefused,
    Approvals,
)
from .audit import Audit, redact
from .db import (
    Database,
    SqliteDatabase,
    StoreError,
    StoreUnavailable,
    Tx,
    as_utc,
    is_postgres_url,
    store_path,
    utcnow,
)
from .usage import DEFAULT_CURRENCY, DEFAULT_SPEND_ACTIONS, InvalidAmount, Usage, windows

__all__ = [
    "APPROVAL_STATUSES", "DEFAULT_CURRENCY", "DEFAULT_SPEND_ACTIONS", "ENFORCEMENTS",
    "ENV_STORE", "ApprovalAlreadyResolved", "ApprovalNotFound", "ApprovalNotRedeemable",
    "ApprovalRefused", "InvalidAmount", "Store", "StoreError", "StoreUnavailable", "Tx",
    "as_utc", "database_for", "open_store", "redact", "store_path", "utcnow", "windows",
]
T = TypeVar("T")


def database_for(target: str | Path | Database) -> Database:
    """The backend of a store URL (``sqlite:///…``, ``postgresql://…``), a SQLite file
    path (a ``Path`` or a string without ``://``), or an already open database."""
    if isinstance(target, Database):
        return target
    if isinstance(target, str) and is_postgres_url(target):
        from .postgres import PostgresDatabase  # psycopg only for a PostgreSQL store
        return PostgresDatabase(target)
    if isinstance(target, str) and "://" in target:
        return SqliteDatabase(store_path(target))
    return SqliteDatabase(Path(target))


class Store:
    """Usage, decisions and approvals of one store; safe across threads and processes."""

    def __init__(self, target: str | Path | Database, clock: Callable[[], datetime] = utcnow):
        self.clock = clock
        self.db = database_for(target)
        self.usage_log = Usage(self.db, self.now)
        self.audit = Audit(self.db, self.now)
        self.approvals = Approvals(self.db, self.now)

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for a PostgreSQL store)."""
        return self.db.path

    def describe(self) -> str:
        return self.db.describe()

    def connect(self) -> Store:
        """Connect and migrate now rather than at the first call (raises
        ``StoreUnavailable`` when the store cannot be opened)."""
        self.db.read("SELECT 1")
        return self

    def now(self) -> datetime:
        return as_utc(self.clock())

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self.db.read(sql, params)

    def locked(self, identity: str, agent: str, work: Callable[[Tx], T],
               deadline: float | None = None) -> T:
        """``work`` in one transaction holding the agent's usage lock (see :mod:`.db`)."""
        return self.db.locked(identity, agent, work, deadline)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- usage -------------------------------------------------------------------------

    def record_usage(self, identity: str, agent: str, action: dict[str, Any],
                     at: datetime | None = None) -> int:
        """Count an action that happened; returns its usage event id."""
        return self.usage_log.record(identity, agent, action, at=at)

    def reserve(self, tx: Tx, identity: str, agent: str, action: dict[str, Any]) -> int:
        """Count an admitted action now, inside ``tx``; returns the reservation id."""
        return self.usage_log.add(tx, identity, agent, action, status="reserved")

    def release(self, identity: str, agent: str, reservation: int) -> str:
        """Give a reservation's usage back (the action did not happen); returns the status
        it had: only a ``reserved`` one is released."""
        return self.db.locked(identity, agent, lambda tx: self.usage_log.settle(
            tx, reservation, identity, agent, "released"))

    def commit(self, identity: str, agent: str, reservation: int) -> str:
        """Mark a reservation ``used`` (it can no longer be released)."""
        return self.db.locked(identity, agent, lambda tx: self.usage_log.settle(
            tx, reservation, identity, agent, "used"))

    def usage(self, identity: str, agent: str, at: datetime | None = None,
              currency: str = DEFAULT_CURRENCY,
              spend_actions: Iterable[str] = DEFAULT_SPEND_ACTIONS,
              tx: Tx | None = None) -> dict[str, Any]:
        return self.usage_log.read(identity, agent, at=at, currency=currency,
                                   spend_actions=spend_actions, tx=tx)

    # -- decisions and violations ------------------------------------------------------

    def record_decision(self, identity: str, agent: str, action: dict[str, Any],
                        decision: dict[str, Any], decision_id: str | None = None,
                        incident: str | None = None, keep_text: bool = False,
                        at: datetime | None = None, tx: Tx | None = None) -> int:
        return self.audit.record_decision(identity, agent, action, decision, decision_id,
                                          incident=incident, keep_text=keep_text, at=at, tx=tx)

    def decision(self, row: int) -> dict[str, Any] | None:
        return self.audit.decision(row)

    def decisions(self, identity: str | None = None, agent: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
        return self.audit.decisions(identity=identity, agent=agent, limit=limit)

    def violations(self, identity: str | None = None, agent: str | None = None,
                   pack: str | None = None, enforcement: str | None = None,
                   since: datetime | None = None, limit: int | None = None,
                   kind: str = "enforced") -> list[dict[str, Any]]:
        return self.audit.violations(identity=identity, agent=agent, pack=pack,
                                     enforcement=enforcement, since=since, limit=limit,
                                     kind=kind)

    def violation_stats(self, identity: str | None = None, agent: str | None = None,
                        pack: str | None = None, enforcement: str | None = None,
                        since: datetime | None = None,
                        kind: str = "enforced") -> list[dict[str, Any]]:
        return self.audit.violation_stats(identity=identity, agent=agent, pack=pack,
                                          enforcement=enforcement, since=since, kind=kind)

    # -- approvals ---------------------------------------------------------------------

    def create_approval(self, identity: str, agent: str, action: dict[str, Any],
                        decision: dict[str, Any], decision_id: str | None = None,
                        keep_text: bool = False) -> dict[str, Any]:
        return self.approvals.create(identity, agent, action, decision, decision_id,
                                     keep_text=keep_text)

    def get_approval(self, approval_id: str) -> dict[str, Any] | None:
        return self.approvals.get(approval_id)

    def list_approvals(self, status: str | None = None, agent: str | None = None,
                       identity: str | None = None) -> list[dict[str, Any]]:
        return self.approvals.list(status=status, agent=agent, identity=identity)

    def resolve_approval(self, approval_id: str, status: str, by: str) -> dict[str, Any]:
        return self.approvals.resolve(approval_id, status, by)

    def redeem_approval(self, tx: Tx, approval_id: str, identity: str, agent: str,
                        action: dict[str, Any], decision_id: str | None) -> dict[str, Any]:
        return self.approvals.redeem(tx, approval_id, identity, agent, action, decision_id)


def open_store(url: str | None = None, create: bool = True,
               clock: Callable[[], datetime] = utcnow) -> Store:
    """The store at ``url``, or at ``$POLICYPACKS_STORE`` when no URL is given.

    ``create=False`` refuses a file that does not exist yet, so a mistyped path in a
    read-only command is an error rather than a new, empty audit trail.
    """
    url = url or os.environ.get(ENV_STORE)
    if not url:
        raise UsageError(f"no store: pass --store sqlite:////abs/path/store.db (or "
                         f"postgresql://…) or set {ENV_STORE}")
    if is_postgres_url(url):
        return Store(url, clock=clock)
    path = store_path(url)
    if not create and not path.is_file():
        raise UsageError(f"{url}: no store at {path}")
    return Store(path, clock=clock)
