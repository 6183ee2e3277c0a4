"""The audit/usage store: calendar windows, redaction, filters, and several processes
writing at once without losing a row or seeing "database is locked"."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policypacks.errors import UsageError
from policypacks.runtime.store import Store, open_store, redact, store_path, windows

NOW = datetime(2024, 5, 15, 10, 30, 45, tzinfo=UTC)
BLOCK = {"decision": "block", "allow": False, "revision": "r1", "approval": None,
         "violations": [{"pack": "hard", "rule": "single", "type": "spending_limit",
                         "category": "operational", "enforcement": "block",
                         "level": "identity", "message": "over 500"}]}


def store_at(tmp_path: Path, now: datetime = NOW) -> Store:
    return Store(tmp_path / "audit.db", clock=lambda: now)


def test_windows_are_utc_calendar_windows() -> None:
    w = windows(datetime(2024, 5, 15, 12, 30, 45, tzinfo=UTC).astimezone())
    assert w["minute"] == datetime(2024, 5, 15, 12, 30, tzinfo=UTC)
    assert w["hour"] == datetime(2024, 5, 15, 12, tzinfo=UTC)
    assert w["day"] == datetime(2024, 5, 15, tzinfo=UTC)
    assert w["month"] == datetime(2024, 5, 1, tzinfo=UTC)


def test_usage_counts_each_window(tmp_path: Path) -> None:
    store = store_at(tmp_path)
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


def test_reading_usage_does_not_grow_with_history(tmp_path: Path) -> None:
    """Running totals of ended windows are dropped as new actions come in: reading the
    usage document looks at a few rows, not at the month's events (those stay)."""
    store = store_at(tmp_path)
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


def test_spend_counts_only_spend_actions_and_apis_count_per_api(tmp_path: Path) -> None:
    store = store_at(tmp_path)
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


def test_usage_windows_follow_the_clock(tmp_path: Path) -> None:
    clock = [NOW]
    store = Store(tmp_path / "s.db", clock=lambda: clock[0])
    store.record_usage("acme", "bot", {"type": "send_email"})
    assert store.usage("acme", "bot")["actions"]["send_email"]["minute"] == 1
    clock[0] = NOW + timedelta(minutes=1)
    assert store.usage("acme", "bot")["actions"]["send_email"] == {"minute": 0, "hour": 1,
                                                                    "day": 1}
    clock[0] = NOW.replace(hour=23, minute=59) + timedelta(minutes=1)  # next day
    assert store.usage("acme", "bot")["actions"] == {}


def test_redaction_replaces_everything_under_content() -> None:
    action = {"type": "send_email", "recipient": {"address": "a@b.com"},
              "content": {"text": "secret", "subject": "hi", "topics": ["legal"], "n": 3}}
    assert redact(action) == {"type": "send_email", "recipient": {"address": "a@b.com"},
                              "content": {"text": "[redacted: 6 chars]",
                                          "subject": "[redacted: 2 chars]",
                                          "topics": ["[redacted: 5 chars]"], "n": 3}}
    assert action["content"]["text"] == "secret"  # the caller's action is untouched
    assert redact({"type": "spend", "amount": 3}) == {"type": "spend", "amount": 3}


def test_decisions_are_stored_with_one_row_per_violation(tmp_path: Path) -> None:
    store = store_at(tmp_path)
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


def test_stats_put_the_noisiest_rule_first(tmp_path: Path) -> None:
    clock = [NOW]
    store = Store(tmp_path / "s.db", clock=lambda: clock[0])
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
    for bad in ["postgres://x", "sqlite:///", "/tmp/a.db"]:
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
    store = store_at(tmp_path)
    store.record_usage("acme", "bot", {"type": "x"})
    assert store._read("PRAGMA journal_mode")[0][0] == "wal"


def _writer(path: str, worker: int, count: int) -> None:
    store = Store(Path(path))
    for index in range(count):
        store.record_usage("acme", f"bot-{worker}", {"type": "spend", "amount": 1})
        if index % 4 == 0:
            store.record_decision("acme", f"bot-{worker}", {"type": "spend"}, BLOCK,
                                  f"{worker}-{index}")
    store.close()


def test_several_processes_write_at_once_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Store(path).record_usage("acme", "setup", {"type": "x"})  # not required: racing is fine
    workers, count = 4, 200
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_writer, args=(str(path), w, count))
                 for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * workers  # no "database is locked"
    store = Store(path)
    for worker in range(workers):
        usage = store.usage("acme", f"bot-{worker}")
        assert usage["actions"]["spend"]["day"] == count
        assert usage["spend"]["day"] == count
    assert len(store.violations()) == workers * count // 4
    ids = {v["decision_id"] for v in store.violations()}
    assert len(ids) == workers * count // 4
