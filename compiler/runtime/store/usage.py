"""Usage: one event per action that really happened, and running totals per UTC calendar
window, so the client can send OPA the ``usage`` document of SPEC section 4 in a few
key lookups however long the history is."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .db import Database, as_utc, parse_stamp, stamp

DEFAULT_SPEND_ACTIONS = ("spend",)
DEFAULT_CURRENCY = "USD"


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def windows(now: datetime) -> dict[str, datetime]:
    """Calendar windows (UTC): the start of the current minute, hour, day and month."""
    now = as_utc(now)
    minute = now.replace(second=0, microsecond=0)
    return {"minute": minute, "hour": minute.replace(minute=0),
            "day": minute.replace(minute=0, hour=0),
            "month": minute.replace(minute=0, hour=0, day=1)}


class Usage:
    def __init__(self, db: Database, now: Callable[[], datetime]):
        self.db, self.now = db, now

    def record(self, identity: str, agent: str, action: dict[str, Any],
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

        self.db.write(insert)

    def read(self, identity: str, agent: str, at: datetime | None = None,
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
        rows = self.db.read(" UNION ALL ".join(
            "SELECT window, action_type, api, currency, count, amount FROM usage_windows"
            " WHERE identity = ? AND agent = ? AND window = ? AND start = ?" for _ in current),
            [v for w, start in current.items() for v in (identity, agent, w, stamp(start))])
        # Events stamped after `now` (another process's clock runs ahead, or `at` is in
        # the past) are in the totals of their windows but have not happened yet here.
        ahead = [(window, action_type, api or "", row_currency or "", -1, -(amount or 0))
                 for at_text, action_type, api, row_currency, amount in self.db.read(
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
