"""The client against what an agent (or a broken network) may throw at it: Python values
with no plain JSON form, poisoned amounts, a reply trickled past the deadline, huge or
absurdly nested replies, a corrupt store, reservations, and approvals redeemed once.
Real OPA wherever a decision is made; a stand-in server only for broken replies."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_support import serving
from support import agent, identity, pack

from policypacks import ApprovalRequired, Decision, PolicyBlocked, PolicyClient
from policypacks.deploy.sidecar import LocalOpa
from policypacks.runtime.store import Store
from policypacks.runtime.values import convert, to_json

IDENTITY = "acme"
AT = datetime(2024, 5, 15, 10, 30, tzinfo=UTC)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def when(field: str, **test: Any) -> dict[str, Any]:
    return {"field": field, **test}


DOCS = [
    identity(IDENTITY, escalation={"approvers": ["finance"], "timeout": "1h",
                                   "fallback": "block", "admins": ["cfo"]}),
    pack("caps", "block", category="operational", rules=[
        {"id": "daily", "type": "spending_limit", "max": 100, "period": "day"},
    ]),
    pack("review", "require_approval", category="operational", rules=[
        {"id": "refunds", "type": "condition", "message": "refunds need a human",
         "when": when("action.type", equals="refund")},
    ]),
    # Conditions that see the converted values exactly as OPA receives them.
    pack("echo", "warn", category="brand", rules=[
        {"id": "datetime", "type": "condition", "message": "datetime as RFC 3339",
         "when": when("action.at", equals="2024-05-15T10:30:00+00:00")},
        {"id": "date", "type": "condition", "message": "date as RFC 3339",
         "when": when("action.day", equals="2024-05-15")},
        {"id": "uuid", "type": "condition", "message": "UUID as text",
         "when": when("action.ref", equals=str(ID))},
        {"id": "set", "type": "condition", "message": "set sorted",
         "when": when("action.tags", equals=["a", "b", "c"])},
        {"id": "tuple", "type": "condition", "message": "tuple as list",
         "when": when("action.pair", equals=[1, "x"])},
    ]),
    agent("bot"),
]


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    with serving(tmp_path_factory.mktemp("opa"), DOCS, "rev-h") as server:
        yield server


@pytest.fixture
def store(new_store: Callable[..., Store]) -> Store:
    """A store of each backend, for what the store takes part in."""
    return new_store()


@pytest.fixture
def client(opa: LocalOpa, store: Store) -> Iterator[PolicyClient]:
    with PolicyClient(opa.url, IDENTITY, "bot", store=store, timeout=5) as c:
        yield c


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """One SQLite store, for what only the client decides (conversions, replies)."""
    with Store(tmp_path / "store.db") as store:
        yield store


@pytest.fixture
def sqlite_client(opa: LocalOpa, sqlite_store: Store) -> Iterator[PolicyClient]:
    with PolicyClient(opa.url, IDENTITY, "bot", store=sqlite_store, timeout=5) as c:
        yield c


def nested(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth):
        value = [value]
    return value


def rules(decision: Decision) -> list[str]:
    return [f"{v['pack']}/{v['rule']}" for v in decision.violations]


# -- Python values ---------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "rule"), [
    ("at", AT, "echo/datetime"),
    ("at", AT.replace(tzinfo=None), "echo/datetime"),  # naive: UTC, as the store takes it
    ("day", date(2024, 5, 15), "echo/date"),
    ("ref", ID, "echo/uuid"),
    ("tags", {"c", "a", "b"}, "echo/set"),
    ("tags", frozenset({"b", "c", "a"}), "echo/set"),
    ("pair", (1, "x"), "echo/tuple"),
])
def test_python_values_reach_opa_as_a_user_expects(sqlite_client: PolicyClient, field: str,
                                                   value: Any, rule: str) -> None:
    decision = sqlite_client.check({"type": "note", field: value})
    assert decision.decision == "warn" and rules(decision) == [rule]


@pytest.mark.parametrize(("amount", "expected"), [
    (Decimal("100"), "allow"),
    (Decimal("100.00"), "allow"),
    (Decimal("100.01"), "block"),
    (Decimal("99.99"), "allow"),
])
def test_decimals_are_numbers_to_opa(sqlite_client: PolicyClient, amount: Decimal,
                                     expected: str) -> None:
    assert sqlite_client.check({"type": "spend", "amount": amount}).decision == expected


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("0.10"), "0.10"),
    (Decimal("100.0000000000000000001"), "100.0000000000000000001"),  # beyond a float
    (Decimal("1E+3"), "1E+3"),
    (Decimal("-0"), "-0"),
    ({"b": [1, 2.5, True, None], "a": "é\"\n"}, '{"a":"\\u00e9\\"\\n","b":[1,2.5,true,null]}'),
])
def test_the_json_sent_keeps_every_digit(value: Any, text: str) -> None:
    converted, problems = convert(value)
    assert problems == [] and to_json(converted) == text
    assert json.loads(to_json(converted), parse_float=Decimal) == value


@pytest.mark.parametrize(("action", "path"), [
    ({"type": "spend", "amount": float("nan")}, "action.amount"),
    ({"type": "spend", "amount": float("inf")}, "action.amount"),
    ({"type": "spend", "amount": Decimal("-Infinity")}, "action.amount"),
    ({"type": "spend", "amount": Decimal("NaN")}, "action.amount"),
    ({"type": "spend", "amount": -5}, "action.amount"),
    ({"type": "spend", "amount": "600"}, "action.amount"),
    ({"type": "spend", "amount": True}, "action.amount"),
    ({"type": "send_email", "content": {"text": b"bytes"}}, "action.content.text"),
    ({"type": "x", "blob": object()}, "action.blob"),
    ({"type": "x", 3: "non-string key"}, "action"),
    ({"type": "x", "nested": nested(80)}, "action.nested"),
    ("not an action", "action"),
])
def test_unsendable_values_block_as_invalid_input_without_asking_opa(
        sqlite_store: Store, action: Any, path: str) -> None:
    store = sqlite_store
    # An address nothing listens on: an answer can only come from the client itself.
    with PolicyClient("http://127.0.0.1:9", IDENTITY, "bot", store=store) as client:
        decision = client.check(action)
        with pytest.raises(PolicyBlocked) as raised:
            client.enforce(action)
        assert client.record(action).status == "refused"
    for found in (decision, raised.value.decision):
        [violation] = found.violations
        assert (found.decision, found.allow) == ("block", False)
        assert {k: violation[k] for k in ("pack", "rule", "type", "category", "enforcement",
                                          "level")} == {
            "pack": "_system", "rule": "invalid-input", "type": "invalid_input",
            "category": "safety", "enforcement": "block", "level": "identity"}
        assert violation["message"].startswith(path), violation["message"]
    assert [d["decision"] for d in store.decisions()] == ["block", "block"]  # recorded
    assert store.usage("acme", "bot")["actions"] == {}  # and nothing counted


def test_a_lone_surrogate_is_sent_escaped_not_raised(sqlite_client: PolicyClient) -> None:
    assert sqlite_client.check({"type": "note", "content": {"text": "\ud800"}}).decision == "allow"


def test_a_self_referencing_action_is_refused(sqlite_store: Store) -> None:
    store = sqlite_store
    action: dict[str, Any] = {"type": "x"}
    action["self"] = action
    with PolicyClient("http://127.0.0.1:9", IDENTITY, "bot", store=store) as client:
        assert rules(client.check(action)) == ["_system/invalid-input"]


def test_record_counts_decimals_and_refuses_poison(client: PolicyClient, store: Store) -> None:
    assert client.record({"type": "spend", "amount": Decimal("60.5")})
    assert client.record({"type": "spend", "amount": Decimal("39.5")}).status == "recorded"
    for bad in [float("inf"), float("nan"), -1, "5"]:
        assert client.record({"type": "spend", "amount": bad}).status == "refused"
    assert store.usage("acme", "bot")["spend"]["day"] == 100
    assert client.check({"type": "spend", "amount": Decimal("0.01")}).decision == "block"
    assert client.check({"type": "spend", "amount": 0}).decision == "allow"


# -- store failures -----------------------------------------------------------------------

def test_a_corrupt_store_is_a_store_failure_and_record_does_not_raise(opa: LocalOpa,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"\x00garbage" * 512)
    with PolicyClient(opa.url, IDENTITY, "bot", store=Store(path)) as client:
        for decision in [client.check({"type": "spend", "amount": 1})]:
            assert rules(decision) == ["_system/store-unavailable"]
            assert decision.violations[0]["message"].startswith("policy store unavailable")
            assert "engine" not in decision.violations[0]["message"]
        with pytest.raises(PolicyBlocked) as raised:
            client.enforce({"type": "spend", "amount": 1})
        assert rules(raised.value.decision) == ["_system/store-unavailable"]
        assert client.record({"type": "spend", "amount": 1}).status == "store-unavailable"
        assert client.release(12) is False


# -- the deadline and the reply bounds -------------------------------------------------------

def read_request(conn: socket.socket) -> None:
    """All of the request, so that closing never resets a connection with unread bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)


def serve_once(reply: Callable[[socket.socket], None]) -> Iterator[str]:
    """A one-thread HTTP server whose every reply is ``reply(connection)``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def run() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                read_request(conn)
                reply(conn)
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


def trickle(conn: socket.socket) -> None:
    body = b'{"result": {"decision": "allow", "allow": true, "violations": []}}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode())
    for byte in body[:3]:  # 2.4 s: well past the 1 s deadline, each byte within 1 s
        conn.sendall(bytes([byte]))
        time.sleep(0.8)


def trickle_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 2":
        conn.sendall(bytes([byte]))
        time.sleep(0.3)


def huge(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    for _ in range(40):  # 2.5 MiB of whitespace, no Content-Length
        conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    conn.sendall(b"0\r\n\r\n")


def deep(conn: socket.socket) -> None:
    body = b'{"result": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def slightly_deep(conn: socket.socket) -> None:
    body = (b'{"result": {"decision": "allow", "allow": true, "violations": [],'
            b' "x": ' + b"[" * 500 + b"]" * 500 + b"}}")
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


@pytest.mark.parametrize(("reply", "reason"), [
    (trickle, "within 1s"),
    (trickle_headers, "within 1s"),
    (huge, "over 1,048,576 bytes"),
    (deep, "nested too deeply"),
    (slightly_deep, "nested deeper than 64"),
])
def test_bad_replies_block_within_the_deadline(tmp_path: Path, reply: Callable[..., None],
                                               reason: str) -> None:
    store = Store(tmp_path / "store.db")
    for url in serve_once(reply):
        with PolicyClient(url, IDENTITY, "bot", store=store, timeout=1.0) as client:
            started = time.monotonic()
            decision = client.check({"type": "spend", "amount": 1})
            elapsed = time.monotonic() - started
        assert rules(decision) == ["_system/engine-unavailable"]
        assert reason in decision.violations[0]["message"], decision.violations[0]["message"]
        assert elapsed < 2.0, elapsed  # a total deadline (the server would take 2.4 s+)


# -- enforce: reserve, release, redeem -------------------------------------------------------

def test_enforce_reserves_and_release_gives_back(client: PolicyClient, store: Store) -> None:
    admitted = [client.enforce({"type": "spend", "amount": 40}) for _ in range(2)]
    assert all(d.reservation is not None for d in admitted)
    assert store.usage("acme", "bot")["spend"]["day"] == 80  # no record() needed
    with pytest.raises(PolicyBlocked):
        client.enforce({"type": "spend", "amount": 40})
    assert client.release(admitted[0]) is True
    assert client.release(admitted[0]) is False  # once
    assert client.enforce({"type": "spend", "amount": 40}).reservation is not None
    assert client.commit(admitted[1]) is True and client.release(admitted[1]) is False
    assert store.usage("acme", "bot")["spend"]["day"] == 80


REFUND = {"type": "refund", "amount": Decimal("12.50"), "order": "o-1"}


def test_an_approval_admits_exactly_its_action_once(client: PolicyClient,
                                                    store: Store) -> None:
    with pytest.raises(ApprovalRequired) as raised:
        client.enforce(REFUND)
    request = raised.value.request
    assert request is not None and request.admins == ["cfo"]
    waited: list[Any] = []
    waiter = threading.Thread(target=lambda: waited.append(
        client.wait_for_approval(request, timeout=10)))
    waiter.start()
    time.sleep(0.3)
    assert waited == []  # still waiting for a human
    store.resolve_approval(request.id, "approved", by="cfo")
    waiter.join(timeout=10)
    assert waited[0].status == "approved" and waited[0].outcome == "allow"
    assert waited[0].resolved_by == "cfo"
    with pytest.raises(PolicyBlocked) as other:  # another action: refused, nothing opened
        client.enforce({**REFUND, "order": "o-2"}, approval=request.id)
    assert rules(other.value.decision)[0] == "_system/approval-refused"
    decision = client.enforce(REFUND, approval=request.id)
    assert decision.allow and decision.approved is not None
    assert decision.approved.id == request.id and decision.reservation is not None
    with pytest.raises(PolicyBlocked) as again:
        client.enforce(REFUND, approval=request.id)
    assert "already used" in again.value.decision.violations[0]["message"]
    assert len(store.list_approvals()) == 1  # no new requests were opened by refusals


def test_an_approval_never_lifts_a_block(client: PolicyClient, store: Store) -> None:
    spend = {"type": "spend", "amount": 500}
    request = store.create_approval("acme", "bot", spend, {
        "decision": "require_approval", "approval": {"approvers": ["finance"]}})
    store.resolve_approval(request["id"], "approved", by="finance")
    with pytest.raises(PolicyBlocked) as raised:
        client.enforce(spend, approval=request["id"])
    assert rules(raised.value.decision) == ["caps/daily"]
    assert store.get_approval(request["id"])["redeemed_at"] is None  # type: ignore[index]


def test_wait_for_approval_returns_pending_at_its_timeout(client: PolicyClient) -> None:
    with pytest.raises(ApprovalRequired) as raised:
        client.enforce(REFUND)
    assert raised.value.request is not None
    started = time.monotonic()
    waited = client.wait_for_approval(raised.value.request.id, timeout=0.4)
    assert waited.status == "pending" and 0.4 <= time.monotonic() - started < 2
