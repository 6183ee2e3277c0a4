"""Usage: one event per action that was admitted, and running totals per UTC calendar
window, so the client can send OPA the ``usage`` document of SPEC section 4 in a few
key lookups however long the history is.

An event is ``reserved`` when :meth:`PolicyClient.enforce` admits its action (in the same
transaction as the check of the caps, under the agent's usage lock), ``used`` when it was
recorded or committed, and ``released`` when the action did not happen and its usage was
given back. Reserved and used events both count. Amounts are exact decimals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from .db import Database, StoreError, Tx, as_utc, number, parse_stamp, stamp

DEFAULT_SPEND_ACTIONS = ("spend",)
DEFAULT_CURRENCY = "USD"
STATUSES = ("reserved", "used", "released")


class InvalidAmount(StoreError, ValueError):
    """An amount that must never reach the counters (negative, NaN, infinite, not a number)."""


def amount_of(action: dict[str, Any]) -> Decimal | None:
    """The action's amount as an exact Decimal (None when it has none).

    Refused: booleans, strings and every other non-number, negative numbers, NaN and
    infinities: a counter that an agent could lower or poison would not cap anything.
    """
    if "amount" not in action or action["amount"] is None:
        return None
    value = action["amount"]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidAmount(f"action.amount: expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value) \
            or isinstance(value, Decimal) and not value.is_finite():
        raise InvalidAmount(f"action.amount: {value} is not a finite number")
    exact = value if isinstance(value, Decimal) else number(value)
    if exact < 0:
        raise InvalidAmount(f"action.amount: {value} is negative")
    return exact


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def windows(now: datetime) -> dict[str, datetime]:
    """Calendar windows (UTC): the start of the current minute, hour, day and month."""
    now = as_utc(now)
    minute = now.replace(second=0, microsecond=0)
    return {"minute": minute, "hour": minute.replace(minute=0),
            "day": minute.replace(minute=0, hour=0),
            "month": minute.replace(minute=0, hour=0, day=1)}


def _totals_key(identity: str, agent: str, window: str, start: datetime, action_type: str,
                api: str, currency: str) -> tuple[str, ...]:
    return (identity, agent, window, stamp(start), action_type, api, currency)


class Usage:
    def __init__(self, db: Database, now: Callable[[], datetime]):
        self.db, self.now = db, now

    def _param(self, value: Decimal) -> Any:
        # sqlite3 cannot bind a Decimal; its text keeps every digit (NUMERIC affinity).
        return str(value) if self.db.dialect == "sqlite" else value

    # -- writing -----------------------------------------------------------------------

    def add(self, tx: Tx, identity: str, agent: str, action: dict[str, Any],
            at: datetime | None = None, status: str = "used") -> int:
        """One event for one admitted action, inside ``tx`` (which holds the agent's usage
        lock): its type, its API (for ``api_call``-like actions) and its amount and
        currency (for spend caps). Returns the event id (the reservation)."""
        amount = amount_of(action)
        currency = str(action.get("currency") or DEFAULT_CURRENCY).upper()
        api = str(action["api"]) if isinstance(action.get("api"), str) else ""
        when = as_utc(at or self.now())
        action_type = str(action.get("type", ""))
        row_currency = currency if amount is not None else ""
        event = tx.execute(
            "INSERT INTO usage_events (at, identity, agent, action_type, api, amount, currency,"
            " status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (stamp(when), identity, agent, action_type, api or None,
             None if amount is None else self._param(amount), row_currency or None,
             status)).fetchone()[0]
        # Totals of windows that have ended are never read again (the events stay).
        ended = windows(min(when, self.now()))
        tx.execute('DELETE FROM usage_windows WHERE identity = ? AND agent = ? AND ('
                   + " OR ".join(['("window" = ? AND start < ?)'] * len(ended)) + ")",
                   (identity, agent, *(v for w, start in ended.items() for v in (w, stamp(start)))))
        self._shift(tx, [_totals_key(identity, agent, window, start, action_type, api,
                                     row_currency) for window, start in windows(when).items()],
                    1, amount or Decimal(0))
        return int(event)

    def _shift(self, tx: Tx, keys: list[tuple[str, ...]], count: int, amount: Decimal,
               create: bool = True) -> None:
        """Add ``count`` and ``amount`` to the totals rows ``keys``, in exact decimals:
        PostgreSQL sums NUMERIC exactly in SQL; SQLite would add floats there, so its
        totals are summed here (inside the same locked transaction)."""
        if create and self.db.dialect == "postgresql":
            # NUMERIC sums exactly in SQL: one statement instead of a round trip per window.
            tx.execute(
                'INSERT INTO usage_windows (identity, agent, "window", start, action_type, api,'
                " currency, count, amount) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(keys))
                + ' ON CONFLICT (identity, agent, "window", start, action_type, api, currency)'
                " DO UPDATE SET count = GREATEST(0, usage_windows.count + excluded.count),"
                " amount = GREATEST(0, usage_windows.amount + excluded.amount)",
                [v for key in keys for v in (*key, count, amount)])
            return
        where = ('identity = ? AND agent = ? AND "window" = ? AND start = ? AND action_type = ?'
                 " AND api = ? AND currency = ?")
        for key in keys:
            found = tx.execute(f"SELECT count, amount FROM usage_windows WHERE {where}",
                               key).fetchone()
            if found is None and not create:
                continue  # that window has ended: nothing left to give back
            old_count, old_amount = (0, Decimal(0)) if found is None else (
                int(found[0]), number(found[1]))
            tx.execute(
                'INSERT INTO usage_windows (identity, agent, "window", start, action_type, api,'
                " currency, count, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ' ON CONFLICT (identity, agent, "window", start, action_type, api, currency)'
                " DO UPDATE SET count = excluded.count, amount = excluded.amount",
                (*key, max(0, old_count + count),
                 self._param(max(Decimal(0), old_amount + amount))))

    def record(self, identity: str, agent: str, action: dict[str, Any],
               at: datetime | None = None) -> int:
        """Count an action that really happened (for callers of ``check``)."""
        amount_of(action)  # refuse a bad amount before the store is touched
        return self.db.locked(identity, agent,
                              lambda tx: self.add(tx, identity, agent, action, at=at))

    def settle(self, tx: Tx, event: int, identity: str, agent: str, status: str) -> str:
        """Mark a reserved event ``used`` or ``released`` (giving its usage back); returns
        the status it had (only a ``reserved`` event changes)."""
        found = tx.execute("SELECT status, at, action_type, api, currency, amount"
                           " FROM usage_events WHERE id = ? AND identity = ? AND agent = ?",
                           (event, identity, agent)).fetchone()
        if found is None:
            raise StoreError(f"no reservation {event} of {identity}/{agent}")
        if found[0] != "reserved":
            return str(found[0])
        tx.execute("UPDATE usage_events SET status = ?, released_at = ? WHERE id = ?",
                   (status, stamp(self.now()) if status == "released" else None, event))
        if status == "released":
            at = parse_stamp(found[1])
            self._shift(tx, [_totals_key(identity, agent, window, start, found[2],
                                         found[3] or "", found[4] or "")
                             for window, start in windows(at).items()],
                        -1, -number(found[5]), create=False)
        return "reserved"

    # -- reading -----------------------------------------------------------------------

    def read(self, identity: str, agent: str, at: datetime | None = None,
             currency: str = DEFAULT_CURRENCY,
             spend_actions: Iterable[str] = DEFAULT_SPEND_ACTIONS,
             tx: Tx | None = None) -> dict[str, Any]:
        """The SPEC ``usage`` document for the current UTC calendar windows, read in one
        statement (one snapshot), inside ``tx`` when given.

        Spend is summed per currency (the one given: the client passes the action's) over
        the action types in ``spend_actions``; counts are per action type and per API, with
        ``apis["*"]`` counting every API call.
        """
        now = self.now() if at is None else as_utc(at)
        current = windows(now)
        # One primary-key lookup per window (an OR would scan the agent's rows), and the
        # events stamped after `now` (another process's clock runs ahead, or `at` is in
        # the past): in the totals of their windows, they have not happened yet here.
        sql = " UNION ALL ".join(
            ['SELECT "window", start, action_type, api, currency, count, amount'
             ' FROM usage_windows WHERE identity = ? AND agent = ? AND "window" = ?'
             " AND start = ?"] * len(current)
            + ["SELECT '', at, action_type, COALESCE(api, ''), COALESCE(currency, ''), 1,"
               " amount FROM usage_events WHERE identity = ? AND agent = ? AND at > ?"
               " AND at < ? AND status <> 'released'"])
        params = [v for w, start in current.items() for v in (identity, agent, w, stamp(start))]
        params += [identity, agent, stamp(now), stamp(next_month(current["month"]))]
        rows = (tx.execute(sql, params).fetchall() if tx is not None
                else self.db.read(sql, params))
        entries: list[tuple[str, str, str, str, int, Decimal]] = []
        for window, start_or_at, action_type, api, row_currency, count, amount in rows:
            if window:
                entries.append((window, action_type, api, row_currency, int(count),
                                number(amount)))
                continue
            for ahead_window, start in windows(parse_stamp(start_or_at)).items():
                if start == current[ahead_window]:
                    entries.append((ahead_window, action_type, api, row_currency, -1,
                                    -number(amount)))
        spend_types = set(spend_actions)
        spend: dict[str, Any] = {"hour": 0, "day": 0, "month": 0}
        actions: dict[str, dict[str, int]] = {}
        apis: dict[str, dict[str, int]] = {}
        for window, action_type, api, row_currency, count, amount in entries:
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
