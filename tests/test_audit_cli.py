"""``violations list/stats`` and ``approvals list/show/approve/deny`` on a store written
the way the client writes it; bad input ends in a message and an exit code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result

from policypacks.cli.audit import approvals, parse_since, violations
from policypacks.errors import UsageError
from policypacks.runtime.store import Store

NOW = datetime.now(UTC)


def violation(pack: str, rule: str, enforcement: str) -> dict[str, Any]:
    return {"pack": pack, "rule": rule, "type": "condition", "enforcement": enforcement,
            "message": f"{rule} was violated"}


def refused(*found: dict[str, Any]) -> dict[str, Any]:
    levels = [v["enforcement"] for v in found]
    decision = next(d for d in ("block", "require_approval", "warn") if d in levels)
    return {"decision": decision, "allow": decision == "warn", "violations": list(found),
            "revision": "r1",
            "approval": {"approvers": ["finance"], "timeout_seconds": 3600,
                         "fallback": "block", "route": "identity"}
            if decision == "require_approval" else None}


@pytest.fixture
def url(store_url: str) -> str:
    """A store (SQLite or PostgreSQL) written the way the client writes it."""
    store = Store(store_url)
    send = {"type": "send_email", "content": {"text": "hi"}}
    for agent_id, decision, age in [
        ("sales-bot", refused(violation("style", "asap", "warn")), timedelta(0)),
        ("sales-bot", refused(violation("style", "asap", "warn")), timedelta(hours=1)),
        ("support-bot", refused(violation("style", "asap", "warn")), timedelta(days=2)),
        ("sales-bot", refused(violation("hard", "single", "block"),
                              violation("style", "asap", "warn")), timedelta(minutes=5)),
        ("support-bot", refused(violation("caps", "daily", "require_approval")),
         timedelta(days=3)),
    ]:
        store.record_decision("acme", agent_id, send, decision, f"d-{agent_id}-{age}",
                              at=NOW - age)
    store.close()
    return store_url


def run(group: Any, *args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(group, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_list_shows_the_newest_first_as_a_table(url: str) -> None:
    result = run(violations, "list", "--store", url)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "AGENT", "ACTION", "DECISION", "RULE",
                                "ENFORCEMENT", "MESSAGE"]
    assert "style/asap" in lines[2] and "warn" in lines[2]
    assert len(lines) == 2 + 6


def test_list_filters(url: str) -> None:
    assert len(as_json(run(violations, "list", "--store", url, "--json"))) == 6
    found = as_json(run(violations, "list", "--store", url, "--json", "--agent", "sales-bot",
                        "--pack", "style"))
    assert [v["agent"] for v in found] == ["sales-bot"] * 3
    found = as_json(run(violations, "list", "--store", url, "--json",
                        "--enforcement", "block"))
    assert [(v["rule"], v["decision"], v["decision_id"]) for v in found] == [
        ("single", "block", "d-sales-bot-0:05:00")]
    assert len(as_json(run(violations, "list", "--store", url, "--json", "--since", "90m"))) == 4
    day = (NOW - timedelta(days=1)).date().isoformat()
    assert len(as_json(run(violations, "list", "--store", url, "--json", "--since", day))) >= 4
    assert len(as_json(run(violations, "list", "--store", url, "--json", "--limit", "2"))) == 2
    none = run(violations, "list", "--store", url, "--agent", "nobody")
    assert none.exit_code == 0 and "no violations recorded for these filters" in none.output


def test_stats_put_the_noisiest_rule_first(url: str) -> None:
    stats = as_json(run(violations, "stats", "--store", url, "--json"))
    assert [(s["pack"], s["rule"], s["agent"], s["count"], s["rule_total"]) for s in stats] == [
        ("style", "asap", "sales-bot", 3, 4), ("style", "asap", "support-bot", 1, 4),
        ("caps", "daily", "support-bot", 1, 1), ("hard", "single", "sales-bot", 1, 1)]
    assert sum(stats[0]["per_day"].values()) == 3
    text = run(violations, "stats", "--store", url, "--by-day").output
    assert text.splitlines()[0].split()[:4] == ["RULE", "RULE", "TOTAL", "AGENT"]
    assert "DAY" in text
    recent = as_json(run(violations, "stats", "--store", url, "--json", "--since", "1d"))
    assert [(s["rule"], s["count"]) for s in recent] == [("asap", 3), ("single", 1)]


def test_approvals_list_approve_deny_show(url: str) -> None:
    store = Store(url)
    decision = refused(violation("caps", "daily", "require_approval"))
    first = store.create_approval("acme", "sales-bot", {"type": "spend", "amount": 80}, decision)
    second = store.create_approval("acme", "sales-bot", {"type": "spend"}, decision)
    listed = run(approvals, "list", "--store", url)
    assert first["id"] in listed.output and "pending" in listed.output
    assert "finance" in listed.output and "caps/daily" in listed.output

    approved = run(approvals, "approve", first["id"], "--by", "finance", "--store", url)
    assert approved.exit_code == 0
    assert f"{first['id']}: approved by finance" in approved.output
    denied = as_json(run(approvals, "deny", second["id"], "--by", "finance", "--store", url,
                         "--json"))
    assert (denied["status"], denied["outcome"], denied["resolved_by"]) == (
        "denied", "block", "finance")
    assert as_json(run(approvals, "list", "--store", url, "--json", "--status",
                       "pending")) == []
    assert [a["id"] for a in as_json(run(approvals, "list", "--store", url, "--json",
                                         "--status", "approved"))] == [first["id"]]
    shown = run(approvals, "show", first["id"], "--store", url)
    assert '"amount": 80' in shown.output and "caps/daily" in shown.output

    again = run(approvals, "approve", first["id"], "--by", "finance", "--store", url)
    assert again.exit_code == 1 and "already approved" in again.output
    missing = run(approvals, "deny", "apr-nope", "--by", "finance", "--store", url)
    assert missing.exit_code == 1 and "no approval request apr-nope" in missing.output
    assert run(approvals, "show", "apr-nope", "--store", url).exit_code == 1
    assert run(approvals, "approve", first["id"], "--store", url).exit_code == 2  # no --by


@pytest.mark.parametrize(("command", "who", "message"), [
    ("approve", "random-intern", "'random-intern' may not resolve"),
    ("deny", "random-intern", "approvers: 'finance'; admins: none"),
    ("approve", "sales-bot", "'sales-bot' is the agent that asked"),
    ("deny", "sales-bot", "never resolves its own approval request"),
])
def test_only_an_approver_resolves_exit_2_otherwise(url: str, command: str, who: str,
                                                    message: str) -> None:
    store = Store(url)
    request = store.create_approval("acme", "sales-bot", {"type": "spend", "amount": 80},
                                    refused(violation("caps", "daily", "require_approval")))
    result = run(approvals, command, request["id"], "--by", who, "--store", url)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert store.get_approval(request["id"])["status"] == "pending"  # type: ignore[index]
    store.close()


def test_the_store_comes_from_the_environment(url: str) -> None:
    result = run(violations, "list", "--json", env={"POLICYPACKS_STORE": url})
    assert len(as_json(result)) == 6


@pytest.mark.parametrize(("args", "message"), [
    (["list"], "no store"),
    (["list", "--store", "mysql://x"], "not a store URL"),
    (["list", "--store", "sqlite:////nonexistent/dir/a.db"], "no store at"),
    (["list", "--store", "URL", "--since", "yesterday"], "--since 'yesterday'"),
    (["list", "--store", "URL", "--enforcement", "deny"], "Invalid value"),
])
def test_bad_input_exits_2_without_a_traceback(url: str, args: list[str], message: str) -> None:
    result = run(violations, *[url if a == "URL" else a for a in args],
                 env={"POLICYPACKS_STORE": ""})
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_parse_since() -> None:
    now = datetime(2024, 5, 15, 12, tzinfo=UTC)
    assert parse_since("24h", now) == datetime(2024, 5, 14, 12, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2024, 5, 8, 12, tzinfo=UTC)
    assert parse_since("30m", now) == datetime(2024, 5, 15, 11, 30, tzinfo=UTC)
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_since("2024-05-01T12:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_since(None) is None
    with pytest.raises(UsageError):
        parse_since("soon")
