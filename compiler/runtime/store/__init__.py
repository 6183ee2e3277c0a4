"""The agent's store, behind one facade: usage for caps, the audit trail, approvals.

One SQLite file shared by every process of an agent (:mod:`.db`); each job lives in its
own module (:mod:`.usage`, :mod:`.audit`, :mod:`.approvals`) and :class:`Store` hands
each call to the one that owns it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...vocabulary import APPROVAL_STATUSES, ENFORCEMENTS, ENV_STORE
from .approvals import ApprovalAlreadyResolved, ApprovalNotFound, Approvals
from .audit import Audit, redact
from .db import Database, StoreError, as_utc, store_path, utcnow
from .usage import DEFAULT_CURRENCY, DEFAULT_SPEND_ACTIONS, Usage, windows

__all__ = [
    "APPROVAL_STATUSES", "DEFAULT_CURRENCY", "DEFAULT_SPEND_ACTIONS", "ENFORCEMENTS",
    "ENV_STORE", "ApprovalAlreadyResolved", "ApprovalNotFound", "Store", "StoreError",
    "as_utc", "open_store", "redact", "store_path", "utcnow", "windows",
]


class Store:
    """Usage, decisions and approvals of one store file; safe across threads and processes."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utcnow):
        self.clock = clock
        self.db = Database(path)
        self.usage_log = Usage(self.db, self.now)
        self.audit = Audit(self.db, self.now)
        self.approvals = Approvals(self.db, self.now)

    @property
    def path(self) -> Path:
        return self.db.path

    def now(self) -> datetime:
        return as_utc(self.clock())

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self.db.read(sql, params)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- usage -------------------------------------------------------------------------

    def record_usage(self, identity: str, agent: str, action: dict[str, Any],
                     at: datetime | None = None) -> None:
        self.usage_log.record(identity, agent, action, at=at)

    def usage(self, identity: str, agent: str, at: datetime | None = None,
              currency: str = DEFAULT_CURRENCY,
              spend_actions: Iterable[str] = DEFAULT_SPEND_ACTIONS) -> dict[str, Any]:
        return self.usage_log.read(identity, agent, at=at, currency=currency,
                                   spend_actions=spend_actions)

    # -- decisions and violations ------------------------------------------------------

    def record_decision(self, identity: str, agent: str, action: dict[str, Any],
                        decision: dict[str, Any], decision_id: str | None = None,
                        incident: str | None = None, keep_text: bool = False,
                        at: datetime | None = None) -> int:
        return self.audit.record_decision(identity, agent, action, decision, decision_id,
                                          incident=incident, keep_text=keep_text, at=at)

    def decision(self, row: int) -> dict[str, Any] | None:
        return self.audit.decision(row)

    def decisions(self, identity: str | None = None, agent: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
        return self.audit.decisions(identity=identity, agent=agent, limit=limit)

    def violations(self, identity: str | None = None, agent: str | None = None,
                   pack: str | None = None, enforcement: str | None = None,
                   since: datetime | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
        return self.audit.violations(identity=identity, agent=agent, pack=pack,
                                     enforcement=enforcement, since=since, limit=limit)

    def violation_stats(self, identity: str | None = None, agent: str | None = None,
                        pack: str | None = None, enforcement: str | None = None,
                        since: datetime | None = None) -> list[dict[str, Any]]:
        return self.audit.violation_stats(identity=identity, agent=agent, pack=pack,
                                          enforcement=enforcement, since=since)

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
