"""The agent client against a real OPA server: every enforcement level, usage reaching a
cap across calls, approvals, the decision log carrying the recorded decision id, and
failing closed when OPA is down, slow, broken or answers nonsense."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support import agent, identity, pack, write_repo

from policypacks import ApprovalRequired, Decision, PolicyBlocked, PolicyClient
from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path
from policypacks.runtime.store import Store

LOG_MASK = Path(__file__).resolve().parent.parent / "opa-config" / "log-mask"

IDENTITY = "acme-corp"  # a dash: the client must ask for policypacks/acme_corp
NOW = datetime(2024, 5, 15, 10, 30, tzinfo=UTC)


def when(field: str, **test: Any) -> dict[str, Any]:
    return {"field": field, **test}


DOCS = [
    identity(IDENTITY, escalation={"approvers": ["ops-oncall"], "timeout": "24h",
                                   "fallback": "block", "admins": ["cfo"]}),
    pack("caps", "require_approval", category="operational", rules=[
        {"id": "daily", "type": "spending_limit", "max": 100, "period": "day"},
        {"id": "big-refund", "type": "condition", "message": "refunds over 50 need approval",
         "when": {"all": [when("action.type", equals="refund"), when("action.amount", gt=50)]}},
        {"id": "refunds", "type": "escalation", "match": {"actions": ["refund"]},
         "approvers": ["finance"], "timeout": "1s", "fallback": "allow"},
    ]),
    pack("hard", "block", rules=[
        {"id": "single", "type": "spending_limit", "max": 500, "period": "transaction"},
        {"id": "emails", "type": "condition", "message": "at most 3 emails an hour",
         "when": {"all": [when("action.type", equals="send_email"),
                          when("usage.actions.send_email.hour", gte=3)]}},
        {"id": "crm", "type": "condition", "message": "at most 2 CRM calls a minute",
         "when": {"all": [when("action.api", equals="crm"),
                          when("usage.apis.crm.minute", gte=2)]}},
        {"id": "topics", "type": "prohibited_topics", "topics": {"weapons": ["gun"]}},
    ]),
    pack("style", "warn", category="brand", rules=[
        {"id": "asap", "type": "condition", "message": "avoid asap",
         "when": when("action.content.text", contains="asap")},
    ]),
    agent("sales-bot"),
]


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    """One OPA for the module, with console decision logs written to ``log_file``."""
    tmp = tmp_path_factory.mktemp("opa")
    bundle = tmp / "bundle.tar.gz"
    write_bundle(compile_path(write_repo(tmp / "repo", DOCS), "rev-1")[1], bundle)
    config = tmp / "config.yaml"
    config.write_text("decision_logs:\n  console: true\n")
    # The shipped decision-log mask is loaded as a deployment would (opa-config/README.md).
    with LocalOpa(bundles=[bundle, LOG_MASK], config_file=config,
                  log_file=tmp / "opa.log") as server:
        yield server


@pytest.fixture
def clock() -> list[datetime]:
    return [NOW]


@pytest.fixture
def store(new_store: Callable[..., Store], clock: list[datetime]) -> Store:
    return new_store(clock=lambda: clock[0])


@pytest.fixture
def client(opa: LocalOpa, store: Store) -> Iterator[PolicyClient]:
    with PolicyClient(opa.url, IDENTITY, "sales-bot", store=store, timeout=5) as c:
        yield c


SPEND = {"type": "spend", "amount": 40, "currency": "USD"}


# -- every enforcement level ---------------------------------------------------------------

def test_allow(client: PolicyClient, store: Store) -> None:
    decision = client.check({"type": "spend", "amount": 20})
    assert (decision.decision, decision.allow, decision.violations) == ("allow", True, [])
    assert decision.revision == "rev-1" and decision.decision_id
    assert decision.digest and decision.digest == decision.raw["digest"]
    assert decision.raw["identity"] == IDENTITY and decision.incident is None
    assert client.enforce({"type": "spend", "amount": 20}).decision == "allow"
    assert store.decisions() == []  # allow decisions are not audit events


def test_warn_is_allowed_logged_and_recorded(client: PolicyClient, store: Store,
                                             caplog: pytest.LogCaptureFixture) -> None:
    action = {"type": "send_message", "content": {"text": "reply asap"}}
    with caplog.at_level(logging.WARNING, logger="policypacks.client"):
        decision = client.enforce(action)
    assert (decision.decision, decision.allow) == ("warn", True)
    assert "avoid asap" in caplog.text
    [row] = store.decisions()
    assert row["decision"] == "warn" and row["decision_id"] == decision.decision_id
    assert [(v["pack"], v["rule"], v["enforcement"]) for v in store.violations()] == [
        ("style", "asap", "warn")]


def test_require_approval_opens_a_request(client: PolicyClient, store: Store) -> None:
    client.record({"type": "spend", "amount": 70})
    with pytest.raises(ApprovalRequired) as raised:
        client.enforce(SPEND)
    decision, request = raised.value.decision, raised.value.request
    assert isinstance(raised.value, PolicyBlocked)  # stopping on PolicyBlocked is enough
    assert decision.decision == "require_approval" and not decision.allow
    assert decision.approval == {"approvers": ["ops-oncall"], "timeout_seconds": 86400,
                                 "fallback": "block", "route": "identity", "admins": ["cfo"]}
    assert request is not None and request.status == "pending"
    assert request.admins == ["cfo"]
    assert (request.approvers, request.route) == (["ops-oncall"], "identity")
    assert store.get_approval(request.id)["decision_id"] == decision.decision_id  # type: ignore[index]
    assert store.decisions()[0]["decision"] == "require_approval"


def test_block_raises_and_is_recorded(client: PolicyClient, store: Store) -> None:
    with pytest.raises(PolicyBlocked) as raised:
        client.enforce({"type": "spend", "amount": 600})
    assert not isinstance(raised.value, ApprovalRequired)
    decision = raised.value.decision
    assert decision.decision == "block"
    assert [(v["pack"], v["rule"]) for v in decision.violations] == [("hard", "single"),
                                                                     ("caps", "daily")]
    [row] = store.decisions()
    assert (row["decision"], row["revision"], row["action_type"]) == ("block", "rev-1", "spend")
    assert row["id"] == decision.record_id
    assert {v["enforcement"] for v in store.violations()} == {"block", "require_approval"}


def test_an_undeclared_agent_is_blocked(opa: LocalOpa, store: Store) -> None:
    with PolicyClient(opa.url, IDENTITY, "ghost", store=store) as ghost:
        decision = ghost.check({"type": "spend", "amount": 1})
    assert decision.decision == "block"
    assert decision.violations[0]["rule"] == "unknown-agent"


# -- usage reaching caps across calls ------------------------------------------------------

def test_spend_accumulates_to_the_daily_cap(client: PolicyClient, clock: list[datetime]) -> None:
    for _ in range(2):
        assert client.check(SPEND).decision == "allow"
        client.record(SPEND)
    client.record({"type": "spend", "amount": 500, "currency": "EUR"})  # another currency
    client.record({"type": "spend", "amount": 90}, at=NOW - timedelta(days=1))  # yesterday
    decision = client.check(SPEND)
    assert decision.decision == "require_approval"
    assert "120 USD" in decision.violations[0]["message"]
    with pytest.raises(ValueError, match="trust_caller_usage"):
        client.check(SPEND, usage={})  # the agent does not pick its own counters
    with PolicyClient(client.opa_url, IDENTITY, "sales-bot", store=client.store,
                      trust_caller_usage=True) as trusting:
        assert trusting.check(SPEND, usage={}).decision == "allow"  # trusted: its usage wins
    clock[0] = NOW + timedelta(days=1)  # a new day: the window starts again
    assert client.check(SPEND).decision == "allow"


def test_action_and_api_counts_reach_their_caps(client: PolicyClient,
                                                clock: list[datetime]) -> None:
    email = {"type": "send_email", "content": {"text": "hello"}}
    for _ in range(3):
        assert client.check(email).decision == "allow"
        client.record(email)
    assert client.check(email).violations[0]["rule"] == "emails"
    crm = {"type": "api_call", "api": "crm"}
    for _ in range(2):
        assert client.check(crm).decision == "allow"
        client.record(crm)
    assert client.check(crm).violations[0]["rule"] == "crm"
    assert client.check({"type": "api_call", "api": "mail"}).decision == "allow"
    clock[0] = NOW + timedelta(minutes=1)  # a new minute for the API cap, same hour for email
    assert client.check(crm).decision == "allow"
    assert client.check(email).decision == "block"


# -- the audit trail ------------------------------------------------------------------------

def test_text_is_redacted_unless_the_caller_keeps_it(opa: LocalOpa, store: Store) -> None:
    action = {"type": "send_message", "content": {"text": "a gun", "subject": "offer"}}
    with PolicyClient(opa.url, IDENTITY, "sales-bot", store=store) as client:
        assert client.check(action).decision == "block"
    with PolicyClient(opa.url, IDENTITY, "sales-bot", store=store, keep_text=True) as client:
        assert client.check(action).decision == "block"
    kept, redacted = store.decisions()
    assert redacted["action"]["content"] == {"text": "[redacted: 5 chars]",
                                             "subject": "[redacted: 5 chars]"}
    assert kept["action"] == action


def decision_log(opa: LocalOpa, decision_id: str) -> dict[str, Any]:
    assert opa.log_file is not None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in opa.log_file.read_text().splitlines():
            if line.startswith("{") and decision_id in line:
                entry = json.loads(line)
                if entry.get("decision_id") == decision_id:
                    return entry
        time.sleep(0.05)
    raise AssertionError(f"decision {decision_id} not in OPA's decision log")


def test_opa_decision_log_carries_the_recorded_decision_id(opa: LocalOpa, client: PolicyClient,
                                                           store: Store) -> None:
    decision = client.check({"type": "spend", "amount": 700})
    [row] = store.decisions()
    assert row["decision_id"] == decision.decision_id
    entry = decision_log(opa, row["decision_id"])
    assert entry["path"] == "policypacks/acme_corp/decision"
    assert entry["result"]["decision"] == "block"
    assert entry["input"]["agent"] == "sales-bot"
    assert entry["input"]["usage"]["spend"] == {"hour": 0, "day": 0, "month": 0}


def test_decision_log_leaves_out_the_free_text(opa: LocalOpa, client: PolicyClient) -> None:
    action = {"type": "send_message", "content": {"text": "my secret plan", "subject": "psst",
                                                  "tone": "friendly"}}
    decision = client.check(action)
    assert decision.decision_id
    entry = decision_log(opa, decision.decision_id)
    assert entry["input"]["action"]["type"] == "send_message"
    assert entry["input"]["action"]["content"] == {"tone": "friendly"}
    assert "/input/action/content/text" in entry["erased"]
    assert "my secret plan" not in json.dumps(entry)


# -- approvals ------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "outcome"), [("approved", "allow"), ("denied", "block")])
def test_a_human_approves_or_denies(client: PolicyClient, store: Store, status: str,
                                    outcome: str) -> None:
    client.record({"type": "spend", "amount": 90})
    decision = client.check(SPEND)
    request = client.request_approval(decision, SPEND)
    assert client.approval_status(request.id).status == "pending"
    store.resolve_approval(request.id, status, by="ops-oncall")
    now = client.approval_status(request.id)
    assert (now.status, now.outcome, now.resolved_by) == (status, outcome, "ops-oncall")


def test_an_unanswered_request_expires_to_its_fallback(client: PolicyClient,
                                                       clock: list[datetime]) -> None:
    refund = {"type": "refund", "amount": 80}
    with pytest.raises(ApprovalRequired) as raised:
        client.enforce(refund)
    request = raised.value.request
    assert request is not None
    assert (request.route, request.timeout_seconds, request.fallback) == (
        "caps/refunds", 1, "allow")
    assert client.approval_status(request.id).status == "pending"
    clock[0] = NOW + timedelta(seconds=2)
    expired = client.approval_status(request.id)
    assert (expired.status, expired.outcome) == ("expired", "allow")
    with pytest.raises(KeyError):
        client.approval_status("apr-missing")


def test_only_require_approval_decisions_open_requests(client: PolicyClient) -> None:
    decision = client.check({"type": "spend", "amount": 600})
    with pytest.raises(Exception, match="only a require_approval"):
        client.request_approval(decision, {"type": "spend", "amount": 600})


# -- failing closed -------------------------------------------------------------------------

def assert_unavailable(decision: Decision, reason: str) -> None:
    assert (decision.decision, decision.allow) == ("block", False)
    [violation] = decision.violations
    assert (violation["pack"], violation["rule"], violation["type"],
            violation["enforcement"]) == ("_system", "engine-unavailable",
                                          "engine_unavailable", "block")
    assert violation["message"].startswith("policy engine unavailable: ")
    assert reason in violation["message"], violation["message"]
    assert decision.incident == violation["message"]


def test_opa_stopped_mid_run_blocks_and_records_the_incident(tmp_path: Path, opa: LocalOpa,
                                                             store: Store) -> None:
    bundle = tmp_path / "b.tar.gz"
    write_bundle(compile_path(write_repo(tmp_path / "repo", DOCS), "rev-2")[1], bundle)
    with LocalOpa(bundles=[bundle]) as mine, \
            PolicyClient(mine.url, IDENTITY, "sales-bot", store=store) as client:
        assert client.check(SPEND).decision == "allow"
        mine.stop()
        decision = client.check(SPEND)  # no exception escapes
        assert_unavailable(decision, "cannot reach")
        with pytest.raises(PolicyBlocked):
            client.enforce(SPEND)
    rows = store.decisions()
    assert len(rows) == 2 and all(r["incident"] == decision.incident for r in rows)
    assert store.violations()[0]["rule"] == "engine-unavailable"


def test_on_error_allow_lets_the_action_through_but_logs_and_records_it(
        tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="policypacks.client"), \
            PolicyClient("http://127.0.0.1:9", IDENTITY, "sales-bot", store=store,
                         on_error="allow", timeout=0.5) as client:
        decision = client.enforce(SPEND)
    assert (decision.decision, decision.allow) == ("warn", True)
    assert decision.violations[0]["rule"] == "engine-unavailable"
    assert "on_error='allow'" in caplog.text
    assert store.decisions()[0]["incident"].startswith("policy engine unavailable")


def test_an_identity_opa_does_not_know_is_undefined_and_blocks(opa: LocalOpa,
                                                               store: Store) -> None:
    with PolicyClient(opa.url, "globex", "sales-bot", store=store) as client:
        assert_unavailable(client.check(SPEND), "undefined result")


class FakeOpa(BaseHTTPRequestHandler):
    """A stand-in server for the failures a real OPA rarely shows on demand."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible
    mode = "valid"
    peers: list[Any] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        FakeOpa.peers.append(self.client_address)
        status, body = 200, b""
        if FakeOpa.mode == "slow":
            time.sleep(0.6)
        if FakeOpa.mode == "error":
            status, body = 500, b'{"code": "internal_error"}'
        elif FakeOpa.mode == "text":
            body = b"<html>proxy says hi</html>"
        elif FakeOpa.mode == "undefined":
            body = b'{"decision_id": "x"}'
        elif FakeOpa.mode == "invalid":
            body = json.dumps({"result": {"decision": "allow", "allow": False,
                                          "violations": []}}).encode()
        elif FakeOpa.mode == "garbled":
            body = json.dumps({"result": {"decision": "maybe"}}).encode()
        else:
            body = json.dumps({"result": {"decision": "allow", "allow": True,
                                          "violations": []}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_opa() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpa)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    FakeOpa.peers = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("mode", "reason"), [
    ("error", "HTTP 500"), ("slow", "within 0.2s"), ("text", "not JSON"),
    ("undefined", "undefined result"), ("invalid", "contradicts decision"),
    ("garbled", "'maybe' is not one of"),
])
def test_broken_answers_fail_closed(fake_opa: str, store: Store, mode: str,
                                    reason: str) -> None:
    FakeOpa.mode = mode
    timeout = 0.2 if mode == "slow" else 5.0  # only "slow" is about the deadline
    with PolicyClient(fake_opa, IDENTITY, "sales-bot", store=store, timeout=timeout) as client:
        decision = client.check(SPEND)
    assert_unavailable(decision, reason)
    assert store.decisions()[0]["incident"] == decision.incident


def test_connections_are_reused(fake_opa: str, store: Store) -> None:
    FakeOpa.mode = "valid"
    with PolicyClient(fake_opa, IDENTITY, "sales-bot", store=store) as client:
        for _ in range(3):
            assert client.check(SPEND).decision == "allow"
    assert len(FakeOpa.peers) == 3 and len(set(FakeOpa.peers)) == 1


def test_a_forked_process_asks_opa_with_workers_of_its_own(opa: LocalOpa) -> None:
    """The calls run in kept worker threads, which a fork does not copy (a pre-fork
    server's workers): the child still gets its decision, not a timeout."""
    with PolicyClient(opa.url, IDENTITY, "sales-bot", store=None, timeout=5) as client:
        assert client.check(SPEND).decision == "allow"  # the parent's workers exist
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through its exit code
            os._exit(0 if client.check(SPEND).decision == "allow" else 1)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_many_threads_checking_at_once_each_get_their_decision(opa: LocalOpa) -> None:
    with PolicyClient(opa.url, IDENTITY, "sales-bot", store=None, timeout=10) as client, \
            ThreadPoolExecutor(max_workers=80) as callers:
        decisions = list(callers.map(lambda _: client.check(SPEND).decision, range(240)))
    assert decisions == ["allow"] * 240
