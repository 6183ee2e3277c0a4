"""Private by default: a session through the client against the sidecar as `policypacks
opa run` starts it (console decision logs redirected to its log file), then the log is
searched for everything sensitive that was sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sidecar_support import Sidecar, sidecar
from support import agent, identity, pack, write_repo

from policypacks.bundle import write_bundle
from policypacks.pipeline import compile_path
from policypacks.runtime.client import PolicyClient

SECRET = "SECRET-"  # every sensitive value sent carries it

RULES = [
    {"id": "pii", "type": "pii", "detect": ["email", "ssn"]},
    {"id": "files", "type": "attachment", "blocked_extensions": ["exe"]},
    {"id": "voice", "type": "tone", "allowed": ["professional"]},
    {"id": "topics", "type": "prohibited_topics", "topics": {"legal": ["lawsuit"]}},
    {"id": "reason", "type": "condition", "message": "no reason given",
     "when": {"field": "action.reason", "equals": ""}},
    {"id": "ticket", "type": "condition", "message": "ticket",
     "when": {"field": "ticket.note", "contains": "x"}},
]

SESSION: list[dict[str, Any]] = [
    {"type": "send_email",
     "content": {"text": f"SSN 078-05-1123 {SECRET}body", "subject": f"{SECRET}subject",
                 "tone": "professional", "topics": ["legal"]},
     "recipient": {"address": f"{SECRET}bob@example.com", "domain": "example.com"}},
    {"type": "attach_file", "attachments": [
        {"name": f"{SECRET}payroll.exe", "size_bytes": 10, "content_type": "text/plain",
         "note": f"{SECRET}note"}]},
    # Shapes the input contract blocks: logged as well, masked as well.
    {"type": "attach_file", "attachments": [f"{SECRET}not-an-object.txt"]},
    {"type": "refund", "amount": 20, "currency": "USD", "reason": f"{SECRET}reason",
     "notes": {"deep": f"{SECRET}deep"}},
    {"type": "send_message", "content": {"text": f"{SECRET}text", "tone": f"{SECRET}tone",
                                         "topics": [f"{SECRET}topic"]}},
    {"type": "send_message", "content": f"{SECRET}content-as-a-string",
     "recipient": f"{SECRET}recipient-as-a-string"},
    {"type": "store_data", "data": {"classes": ["pii"], "retention_days": 3,
                                    "comment": f"{SECRET}comment"}},
    # A key OPA's mask pointers cannot name: the object holding it goes as a whole.
    {"type": "spend", "amount": 1, f"{SECRET}key/with~chars": "x"},
]


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    tmp = tmp_path_factory.mktemp("log")
    docs = [identity("acme"), pack("guard", "warn", RULES), agent("sales-bot")]
    bundle = tmp / "bundle.tar.gz"
    write_bundle(compile_path(write_repo(tmp / "repo", docs), "rev-1")[1], bundle)
    with sidecar(tmp, "--bundle", bundle) as running:
        yield running


def logged(opa: Sidecar, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The decision-log entries of these decisions (OPA writes them asynchronously)."""
    deadline = time.monotonic() + 10
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(found) < len(ids):
        for line in opa.log.read_text().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("decision_id") in ids:
                found[entry["decision_id"]] = entry
        time.sleep(0.1)
    return found


def test_the_decision_log_holds_none_of_the_sensitive_values(opa: Sidecar,
                                                             tmp_path: Path) -> None:
    with PolicyClient(opa.url, "acme", "sales-bot", store=f"sqlite:///{tmp_path / 'a.db'}",
                      token=opa.agent_token, timeout=5) as client:
        decisions = [client.check(action) for action in SESSION]
    assert all(d.incident is None for d in decisions), [d.incident for d in decisions]
    assert {d.decision for d in decisions} == {"allow", "warn", "block"}
    ids = [str(d.decision_id) for d in decisions]
    entries = logged(opa, ids)
    assert sorted(entries) == sorted(ids)  # every decision is logged, by its id
    log = opa.log.read_text()
    assert SECRET not in log and "078-05-1123" not in log
    assert "payroll" not in log and "bob@" not in log

    first, files, bad_files, refund, _, strings, stored, odd = (entries[i] for i in ids)
    # What stays: the decision, the rules that fired, the structured fields.
    assert first["result"]["decision"] == "warn"
    assert {v["rule"] for v in first["result"]["violations"]} >= {"pii", "topics"}
    assert first["input"]["action"] == {
        "type": "send_email", "recipient": {"domain": "example.com"},
        "content": {"tone": "professional", "topics": ["legal"]}}
    assert files["input"]["action"]["attachments"] == [
        {"size_bytes": 10, "content_type": "text/plain"}]
    assert [v["rule"] for v in files["result"]["violations"]] == ["files"]
    assert bad_files["result"]["decision"] == "block"
    assert bad_files["input"]["action"] == {"type": "attach_file", "attachments": []}
    assert refund["input"]["action"] == {"type": "refund", "amount": 20, "currency": "USD"}
    assert strings["input"]["action"] == {"type": "send_message"}
    assert stored["input"]["action"]["data"] == {"classes": ["pii"], "retention_days": 3}
    assert "/input/action/reason" in refund["erased"]
    assert "action" not in odd["input"] and odd["input"]["agent"] == "sales-bot"


def test_a_repository_without_text_rules_still_masks_everything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mask is an allowlist: no rule has to read a field for it to stay out. (The
    client takes its token from POLICYPACKS_OPA_TOKEN here.)"""
    docs = [identity("acme"), pack("caps", "block", [
        {"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}]),
        agent("sales-bot")]
    bundle = tmp_path / "bundle.tar.gz"
    write_bundle(compile_path(write_repo(tmp_path / "repo", docs), "rev-1")[1], bundle)
    with sidecar(tmp_path, "--bundle", bundle) as opa:
        monkeypatch.setenv("POLICYPACKS_OPA_TOKEN", opa.agent_token)
        client = PolicyClient(opa.url, "acme", "sales-bot", store=None, timeout=5)
        decision = client.check({"type": "send_email",
                                 "content": {"text": f"{SECRET}x", "tone": f"{SECRET}t"},
                                 "recipient": {"address": f"{SECRET}a@b.c"}})
        client.close()
        entries = logged(opa, [str(decision.decision_id)])
    assert decision.incident is None, decision.incident
    assert list(entries) == [decision.decision_id]
    assert SECRET not in opa.log.read_text()
