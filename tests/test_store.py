"""The audit/usage store on both backends (SQLite and PostgreSQL): calendar windows,
exact amounts, reservations, redaction, filters, migrations from older stores, file
modes, and several processes writing at once without losing a row."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policypacks.errors import UsageError
from policypacks.runtime.store import (
    InvalidAmount,
    Store,
    StoreError,
    open_store,
    redact,
    store_path,
    windows,
)
from policypacks.runtime.store.schema import MIGRATIONS, SCHEMA_VERSION, migration_sql

NewStore = Callable[..., Store]

NOW = datetime(2024, 5, 15, 10, 30, 45, tzinfo=UTC)
BLOCK = {"decision": "block", "allow": False, "revision": "r1", "approval": None,
         "violations": [{"pack": "hard", "rule": "single", "type": "spending_limit",
                         "category": "operational", "enforcement": "block",
                         "level": "identity", "message": "over 500"}]}


@pytest.fixture
def store(new_store: NewStore) -> Store:
    return new_store(clock=lambda: NOW)


def test_windows_are_utc_calendar_windows() -> None:
    w = windows(datetime(2024, 5, 15, 12, 30, 45, tzinfo=UTC).astimezone())
    assert w["minute"] == datetime(2024, 5, 15, 12, 30, tzinfo=UTC)
    assert w["hour"] == datetime(2024, 5, 15, 12, tzinfo=UTC)
    assert w["day"] == datetime(2024, 5, 15, tzinfo=UTC)
    assert w["month"] == datetime(2024, 5, 1, tzinfo=UTC)


def test_usage_counts_each_window(store: Store) -> None:
    spend = {"type": "spend", "amount": 10, "currency": "usd"}
    for at, amount in [(NOW, 10), (NOW - timedelta(seconds=20), 5),  # this minute
                       (NOW - timedelta(minutes=10), 7),  # this hour
                       (NOW - timedelta(hours=3), 20),  # today
                       (NOW - timedelta(days=3), 100),  # this month
                       (NOW - timedelta(days=30), 1000),  # last month
                       (NOW + timedelta(minutes=1), 9999)]:  # the future does not count yet
        store.record_usage("acme", "bot", {**spend, "amount": amount}, at=at)
    store.record_usage("acme", "bot", {"type": "spend", "amount": 3, "currency": "EUR"}, at=NOW)
    store.record_usage("acme", "other-bot", spend, at=NOW)
    store.record_usage("other", "bot", spend, at=NOW)
    usage = store.usage("acme", "bot")
    assert usage["spend"] == {"hour": 22, "day": 42, "month": 142}
    assert usage["actions"] == {"spend": {"minute": 3, "hour": 4, "day": 5}}
    assert store.usage("acme", "bot", currency="eur")["spend"] == {"hour": 3, "day": 3,
                                                                   "month": 3}
    assert store.usage("acme", "nobody") == {"spend": {"hour": 0, "day": 0, "month": 0},
                                             "actions": {}, "apis": {"*": {"minute": 0,
                                                                           "hour": 0,
                                                                           "day": 0}}}


def test_reading_usage_does_not_grow_with_history(store: Store) -> None:
    """Running totals of ended windows are dropped as new actions come in: reading the
    usage document looks at a few rows, not at the month's events (those stay)."""
    for minutes_ago in range(600, 0, -1):  # ten hours of one action a minute
        store.record_usage("acme", "bot", {"type": "send_email"},
                           at=NOW - timedelta(minutes=minutes_ago))
    store.record_usage("acme", "bot", {"type": "send_email"}, at=NOW)
    [(totals,)] = store._read("SELECT COUNT(*) FROM usage_windows")
    assert totals == 4  # this minute, hour, day and month of send_email
    [(events,)] = store._read("SELECT COUNT(*) FROM usage_events")
    assert events == 601
    assert store.usage("acme", "bot")["actions"] == {
        "send_email": {"minute": 1, "hour": 31, "day": 601}}


def test_spend_counts_only_spend_actions_and_apis_count_per_api(store: Store) -> None:
    store.record_usage("acme", "bot", {"type": "refund", "amount": 50})
    store.record_usage("acme", "bot", {"type": "spend", "amount": 2.5})
    for api in ["crm", "crm", "mail"]:
        store.record_usage("acme", "bot", {"type": "api_call", "api": api})
    store.record_usage("acme", "bot", {"type": "api_call", "api": "crm"},
                       at=NOW - timedelta(minutes=5))
    usage = store.usage("acme", "bot")
    assert usage["spend"]["day"] == 2.5
    assert store.usage("acme", "bot", spend_actions=["spend", "refund"])["spend"]["day"] == 52.5
    assert usage["apis"] == {"crm": {"minute": 2, "hour": 3, "day": 3},
                             "mail": {"minute": 1, "hour": 1, "day": 1},
                             "*": {"minute": 3, "hour": 4, "day": 4}}
    assert usage["actions"]["api_call"] == {"minute": 3, "hour": 4, "day": 4}


def test_usage_windows_follow_the_clock(new_store: NewStore) -> None:
    clock = [NOW]
    store = new_store(clock=lambda: clock[0])
    store.record_usage("acme", "bot", {"type": "send_email"})
    assert store.usage("acme", "bot")["actions"]["send_email"]["minute"] == 1
    clock[0] = NOW + timedelta(minutes=1)
    assert store.usage("acme", "bot")["actions"]["send_email"] == {"minute": 0, "hour": 1,
                                                                    "day": 1}
    clock[0] = NOW.replace(hour=23, minute=59) + timedelta(minutes=1)  # next day
    assert store.usage("acme", "bot")["actions"] == {}


def test_redaction_hides_only_the_free_text() -> None:
    """Approvers and auditors see the tone label, topics and structured fields; only the
    text and subject an agent wrote are replaced by their length."""
    action = {"type": "send_email", "recipient": {"address": "a@b.com"},
              "content": {"text": "secret", "subject": "hi", "topics": ["legal"], "n": 3,
                          "tone": "casual"}}
    assert redact(action) == {"type": "send_email", "recipient": {"address": "a@b.com"},
                              "content": {"text": "[redacted: 6 chars]",
                                          "subject": "[redacted: 2 chars]",
                                          "topics": ["legal"], "n": 3, "tone": "casual"}}
    assert action["content"]["text"] == "secret"  # the caller's action is untouched
    assert redact({"type": "spend", "amount": 3}) == {"type": "spend", "amount": 3}
    assert redact({"type": "x", "content": "a string"}) == {
        "type": "x", "content": "[redacted: 8 chars]"}
    assert redact({"type": "x", "content": {"text": ["a", "list"]}}) == {
        "type": "x", "content": {"text": "[redacted]"}}


def test_decisions_are_stored_with_one_row_per_violation(store: Store) -> None:
    action = {"type": "spend", "amount": 600, "content": {"text": "buy it"}}
    warn = {"pack": "style", "rule": "asap", "enforcement": "warn", "message": "asap"}
    decision = {**BLOCK, "violations": [*BLOCK["violations"], warn]}
    row = store.record_decision("acme", "bot", action, decision, "dec-1")
    kept = store.record_decision("acme", "bot", action, BLOCK, "dec-2", keep_text=True)
    stored = store.decision(row)
    assert stored is not None
    assert stored["decision"] == "block" and stored["decision_id"] == "dec-1"
    assert stored["revision"] == "r1" and stored["action_type"] == "spend"
    assert stored["at"] == "2024-05-15T10:30:45.000000Z"
    assert stored["action"]["content"] == {"text": "[redacted: 6 chars]"}
    assert stored["violations"] == decision["violations"]
    assert store.decision(kept)["action"] == action  # type: ignore[index]
    assert len(store.violations()) == 3
    assert [v["rule"] for v in store.violations(enforcement="warn")] == ["asap"]
    assert [v["decision_id"] for v in store.violations(pack="hard")] == ["dec-2", "dec-1"]
    assert store.violations(agent="other") == []
    assert len(store.violations(limit=1)) == 1
    assert store.violations(since=NOW + timedelta(seconds=1)) == []


def test_stats_put_the_noisiest_rule_first(new_store: NewStore) -> None:
    clock = [NOW]
    store = new_store(clock=lambda: clock[0])
    warn = {"decision": "warn", "allow": True,
            "violations": [{"pack": "style", "rule": "asap", "enforcement": "warn"}]}
    for day, agent_id, decision in [(0, "a", BLOCK), (0, "a", warn), (1, "a", warn),
                                    (1, "b", warn), (1, "b", warn), (1, "b", warn)]:
        clock[0] = NOW + timedelta(days=day)
        store.record_decision("acme", agent_id, {"type": "x"}, decision)
    stats = store.violation_stats()
    assert [(s["pack"], s["rule"], s["agent"], s["count"], s["rule_total"]) for s in stats] == [
        ("style", "asap", "b", 3, 5), ("style", "asap", "a", 2, 5), ("hard", "single", "a", 1, 1)]
    assert stats[1]["per_day"] == {"2024-05-15": 1, "2024-05-16": 1}
    assert stats[1]["enforcement"] == ["warn"]
    assert [s["agent"] for s in store.violation_stats(agent="a")] == ["a", "a"]
    recent = store.violation_stats(since=NOW + timedelta(days=1))
    assert [(s["agent"], s["count"]) for s in recent] == [("b", 3), ("a", 1)]


def test_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_path("sqlite:////var/lib/a.db") == Path("/var/lib/a.db")
    monkeypatch.chdir(tmp_path)
    assert store_path("sqlite:///rel/a.db") == tmp_path / "rel" / "a.db"
    for bad in ["mysql://x", "sqlite:///", "/tmp/a.db"]:
        with pytest.raises(UsageError):
            store_path(bad)
    monkeypatch.delenv("POLICYPACKS_STORE", raising=False)
    with pytest.raises(UsageError, match="POLICYPACKS_STORE"):
        open_store(None)
    monkeypatch.setenv("POLICYPACKS_STORE", f"sqlite:///{tmp_path}/env.db")
    assert open_store(None).path == tmp_path / "env.db"
    with pytest.raises(UsageError, match="no store"):
        open_store(f"sqlite:///{tmp_path}/missing.db", create=False)


def test_the_store_is_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "audit.db", clock=lambda: NOW)
    store.record_usage("acme", "bot", {"type": "x"})
    assert store._read("PRAGMA journal_mode")[0][0] == "wal"


def _writer(url: str, worker: int, count: int) -> None:
    store = Store(url)
    for index in range(count):
        store.record_usage("acme", f"bot-{worker}", {"type": "spend", "amount": 1})
        if index % 4 == 0:
            store.record_decision("acme", f"bot-{worker}", {"type": "spend"}, BLOCK,
                                  f"{worker}-{index}")
    store.close()


def test_several_processes_write_at_once_without_losing_rows(store_url: str) -> None:
    Store(store_url).record_usage("acme", "setup", {"type": "x"})  # racing is fine too
    workers, count = 4, 100
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_writer, args=(store_url, w, count))
                 for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * workers  # no "database is locked"
    store = Store(store_url)
    for worker in range(workers):
        usage = store.usage("acme", f"bot-{worker}")
        assert usage["actions"]["spend"]["day"] == count
        assert usage["spend"]["day"] == count
    assert len(store.violations()) == workers * count // 4
    ids = {v["decision_id"] for v in store.violations()}
    assert len(ids) == workers * count // 4


# -- exact amounts and reservations ------------------------------------------------------

def test_amounts_are_counted_exactly(store: Store) -> None:
    for amount in [Decimal("0.1"), Decimal("0.2"), 0.1, Decimal("600"), 7]:
        store.record_usage("acme", "bot", {"type": "spend", "amount": amount})
    assert store.usage("acme", "bot")["spend"]["day"] == Decimal("607.4")
    assert str(store.usage("acme", "bot")["spend"]["day"]) == "607.4"


@pytest.mark.parametrize("amount", [-1, Decimal("-0.01"), float("nan"), float("inf"),
                                    float("-inf"), Decimal("NaN"), Decimal("Infinity"),
                                    "600", True, [600], {"v": 1}])
def test_amounts_that_would_poison_a_counter_are_refused(store: Store, amount: Any) -> None:
    with pytest.raises(InvalidAmount):
        store.record_usage("acme", "bot", {"type": "spend", "amount": amount})
    assert store._read("SELECT COUNT(*) FROM usage_events")[0][0] == 0
    assert store.usage("acme", "bot")["spend"]["month"] == 0


def test_a_released_reservation_gives_its_usage_back_once(store: Store) -> None:
    spend = {"type": "spend", "amount": Decimal("40.5"), "api": "pay"}
    kept = store.record_usage("acme", "bot", spend)
    reserved = store.locked("acme", "bot", lambda tx: store.reserve(tx, "acme", "bot", spend))
    assert store.usage("acme", "bot")["spend"]["day"] == 81
    assert store.usage("acme", "bot")["apis"]["pay"]["minute"] == 2
    assert store.release("acme", "bot", reserved) == "reserved"
    assert store.usage("acme", "bot")["spend"]["day"] == Decimal("40.5")
    assert store.usage("acme", "bot")["apis"]["pay"]["minute"] == 1
    assert store.release("acme", "bot", reserved) == "released"  # nothing given twice
    assert store.release("acme", "bot", kept) == "used"  # recorded usage is not released
    assert store.usage("acme", "bot")["spend"]["day"] == Decimal("40.5")
    committed = store.locked("acme", "bot", lambda tx: store.reserve(tx, "acme", "bot", spend))
    assert store.commit("acme", "bot", committed) == "reserved"
    assert store.release("acme", "bot", committed) == "used"
    assert store.usage("acme", "bot")["spend"]["day"] == 81
    with pytest.raises(StoreError, match="no reservation"):
        store.release("acme", "other-bot", committed)  # another agent's reservation


def test_a_release_after_its_window_ended_changes_no_later_window(new_store: NewStore) -> None:
    clock = [NOW]
    store = new_store(clock=lambda: clock[0])
    spend = {"type": "spend", "amount": 10}
    reserved = store.locked("acme", "bot", lambda tx: store.reserve(tx, "acme", "bot", spend))
    clock[0] = NOW + timedelta(hours=2)
    store.record_usage("acme", "bot", spend)
    assert store.release("acme", "bot", reserved) == "reserved"
    assert store.usage("acme", "bot")["spend"] == {"hour": 10, "day": 10, "month": 10}


# -- upgrading older stores ----------------------------------------------------------------

# The schema the first release wrote (version 1, kept in SQLite's user_version), verbatim.
SCHEMA_V1_SQLITE = """
CREATE TABLE usage_events (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, identity TEXT NOT NULL, agent TEXT NOT NULL,
  action_type TEXT NOT NULL, api TEXT, amount NUMERIC, currency TEXT);
CREATE INDEX usage_by_agent ON usage_events (identity, agent, at);
CREATE TABLE usage_windows (
  identity TEXT NOT NULL, agent TEXT NOT NULL, window TEXT NOT NULL, start TEXT NOT NULL,
  action_type TEXT NOT NULL, api TEXT NOT NULL, currency TEXT NOT NULL,
  count INTEGER NOT NULL, amount NUMERIC NOT NULL,
  PRIMARY KEY (identity, agent, window, start, action_type, api, currency));
CREATE TABLE decisions (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, identity TEXT NOT NULL, agent TEXT NOT NULL,
  action_type TEXT, decision TEXT NOT NULL, revision TEXT, decision_id TEXT, incident TEXT,
  action TEXT NOT NULL, violations TEXT NOT NULL, approval TEXT);
CREATE TABLE violations (
  id INTEGER PRIMARY KEY, decision_row INTEGER NOT NULL REFERENCES decisions(id),
  at TEXT NOT NULL, identity TEXT NOT NULL, agent TEXT NOT NULL, pack TEXT, rule TEXT,
  type TEXT, category TEXT, enforcement TEXT, level TEXT, message TEXT);
CREATE TABLE approvals (
  id TEXT PRIMARY KEY, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
  identity TEXT NOT NULL, agent TEXT NOT NULL, action_type TEXT, action TEXT NOT NULL,
  decision_id TEXT, revision TEXT, violations TEXT NOT NULL, approvers TEXT NOT NULL,
  timeout_seconds INTEGER NOT NULL, fallback TEXT NOT NULL, route TEXT,
  status TEXT NOT NULL, outcome TEXT, resolved_by TEXT, resolved_at TEXT);
INSERT INTO usage_events VALUES (1, '2024-05-15T10:00:00.000000Z', 'acme', 'bot', 'spend',
  NULL, 30, 'USD');
INSERT INTO usage_windows VALUES ('acme', 'bot', 'day', '2024-05-15T00:00:00.000000Z',
  'spend', '', 'USD', 1, 30);
INSERT INTO approvals VALUES ('apr-old', '2024-05-15T10:00:00.000000Z',
  '2024-05-16T10:00:00.000000Z', 'acme', 'bot', 'spend', '{}', NULL, 'r0', '[]',
  '["finance"]', 86400, 'block', 'identity', 'pending', NULL, NULL, NULL);
PRAGMA user_version = 1;
"""


def test_a_version_1_sqlite_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V1_SQLITE)
    store = Store(path, clock=lambda: NOW)
    assert store.usage("acme", "bot")["spend"]["day"] == 30  # the old rows count
    assert store._read("SELECT MAX(version) FROM schema_version")[0][0] == SCHEMA_VERSION
    old = store.get_approval("apr-old")
    assert old is not None and old["admins"] == [] and old["status"] == "pending"
    assert store.resolve_approval("apr-old", "approved", by="finance")["outcome"] == "allow"
    reserved = store.locked("acme", "bot", lambda tx: store.reserve(
        tx, "acme", "bot", {"type": "spend", "amount": 5}))
    assert store.usage("acme", "bot")["spend"]["day"] == 35
    assert store.release("acme", "bot", reserved) == "reserved"
    store.close()
    assert Store(path, clock=lambda: NOW).usage("acme", "bot")["spend"]["day"] == 30


def test_every_migration_applies_to_a_store_left_at_version_1(backend: str,
                                                             store_url: str) -> None:
    """A store of either backend left at version 1 by an older release is upgraded."""
    if backend == "sqlite":
        conn: Any = sqlite3.connect(store_path(store_url))
    else:
        import psycopg
        conn = psycopg.connect(store_url)
    for statement in migration_sql(MIGRATIONS[1], backend):
        conn.execute(statement)
    conn.execute("INSERT INTO usage_events (at, identity, agent, action_type, amount,"
                 " currency) VALUES ('2024-05-15T10:00:00.000000Z', 'acme', 'bot', 'spend',"
                 " 12, 'USD')")
    if backend == "sqlite":
        conn.execute("PRAGMA user_version = 1")
    else:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
    conn.commit()
    conn.close()
    store = Store(store_url, clock=lambda: NOW)
    versions = [r[0] for r in store._read("SELECT version FROM schema_version ORDER BY 1")]
    assert versions[-1] == SCHEMA_VERSION
    [(status,)] = store._read("SELECT status FROM usage_events")
    assert status == "used"  # what was recorded before reservations existed counts
    store.close()


# -- file modes -------------------------------------------------------------------------

def test_store_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "private" / "audit.db")
        store.record_usage("acme", "bot", {"type": "x"})
        files = sorted(tmp_path.glob("private/audit.db*"))
        assert [f.name for f in files] == ["audit.db", "audit.db-shm", "audit.db-wal"]
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        store.close()
    finally:
        os.umask(old)


def test_a_corrupt_store_fails_as_a_store_failure(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 100)
    store = Store(path)
    with pytest.raises(StoreError, match="not a database"):
        store.usage("acme", "bot")
    with pytest.raises(StoreError):
        store.record_usage("acme", "bot", {"type": "x"})


def test_an_agent_on_sqlite_loads_no_postgresql_driver(tmp_path: Path) -> None:
    """psycopg is loaded only for a postgresql:// store; never jinja2, yaml or click."""
    import json
    import subprocess
    import sys
    code = ("import sys, json\nfrom policypacks.runtime import PolicyClient, Store\n"
            f"s = Store({str(tmp_path / 'a.db')!r})\n"
            "s.record_usage('acme', 'bot', {'type': 'x'})\n"
            "c = PolicyClient('http://127.0.0.1:9', 'acme', 'bot', store=s, timeout=0.2)\n"
            "c.check({'type': 'x'})\n"
            "print(json.dumps(sorted(m for m in ('jinja2', 'yaml', 'click', 'psycopg',"
            " 'psycopg_pool') if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == []
