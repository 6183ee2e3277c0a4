"""Approval requests in the store: routing kept from the decision, approve/deny with who
and when, expiry to the route's fallback (with an injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policypacks.errors import UsageError
from policypacks.runtime.store import ApprovalAlreadyResolved, ApprovalNotFound, Store, StoreError

NOW = datetime(2024, 5, 15, 10, 0, tzinfo=UTC)
ACTION = {"type": "refund", "amount": 80, "content": {"text": "sorry about that"}}


def decision(fallback: str = "block", timeout: int = 3600) -> dict:
    return {"decision": "require_approval", "allow": False, "revision": "r1",
            "violations": [{"pack": "caps", "rule": "big-refund",
                            "enforcement": "require_approval", "message": "over 50"}],
            "approval": {"approvers": ["finance"], "timeout_seconds": timeout,
                         "fallback": fallback, "route": "caps/refunds"}}


@pytest.fixture
def clock() -> list[datetime]:
    return [NOW]


@pytest.fixture
def store(tmp_path: Path, clock: list[datetime]) -> Store:
    return Store(tmp_path / "a.db", clock=lambda: clock[0])


def test_a_request_keeps_the_route_and_a_redacted_action(store: Store) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision(), decision_id="d-1")
    assert request["id"].startswith("apr-")
    assert request["status"] == "pending" and request["outcome"] is None
    assert request["approvers"] == ["finance"] and request["route"] == "caps/refunds"
    assert request["fallback"] == "block" and request["timeout_seconds"] == 3600
    assert request["created_at"] == "2024-05-15T10:00:00.000000Z"
    assert request["expires_at"] == "2024-05-15T11:00:00.000000Z"
    assert request["decision_id"] == "d-1" and request["revision"] == "r1"
    assert request["action"]["content"]["text"] == "[redacted: 16 chars]"
    assert request["violations"][0]["rule"] == "big-refund"
    assert store.get_approval(request["id"]) == request
    assert store.get_approval("apr-nope") is None


@pytest.mark.parametrize(("status", "outcome"), [("approved", "allow"), ("denied", "block")])
def test_approve_and_deny_record_who_and_when(store: Store, clock: list[datetime],
                                              status: str, outcome: str) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision())
    clock[0] = NOW + timedelta(minutes=5)
    resolved = store.resolve_approval(request["id"], status, by="alice")
    assert resolved["status"] == status and resolved["outcome"] == outcome
    assert resolved["resolved_by"] == "alice"
    assert resolved["resolved_at"] == "2024-05-15T10:05:00.000000Z"
    with pytest.raises(ApprovalAlreadyResolved, match=f"already {status}"):
        store.resolve_approval(request["id"], "approved", by="bob")
    clock[0] = NOW + timedelta(days=2)  # resolved requests never expire afterwards
    assert store.get_approval(request["id"])["status"] == status  # type: ignore[index]


@pytest.mark.parametrize("fallback", ["block", "allow"])
def test_an_expired_request_resolves_to_its_fallback(store: Store, clock: list[datetime],
                                                     fallback: str) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision(fallback, timeout=60))
    clock[0] = NOW + timedelta(seconds=59)
    assert store.get_approval(request["id"])["status"] == "pending"  # type: ignore[index]
    clock[0] = NOW + timedelta(seconds=60)
    expired = store.get_approval(request["id"])
    assert expired is not None
    assert (expired["status"], expired["outcome"]) == ("expired", fallback)
    assert expired["resolved_by"] == "timeout" and expired["resolved_at"] == expired["expires_at"]
    with pytest.raises(ApprovalAlreadyResolved, match="already expired"):
        store.resolve_approval(request["id"], "approved", by="alice")


def test_listing_filters_by_status_and_expires_first(store: Store, clock: list[datetime]) -> None:
    short = store.create_approval("acme", "bot", ACTION, decision(timeout=10))
    long = store.create_approval("acme", "bot", ACTION, decision(timeout=1000))
    denied = store.create_approval("acme", "other", ACTION, decision())
    store.resolve_approval(denied["id"], "denied", by="carol")
    clock[0] = NOW + timedelta(seconds=30)
    assert [a["id"] for a in store.list_approvals(status="pending")] == [long["id"]]
    assert [a["id"] for a in store.list_approvals(status="expired")] == [short["id"]]
    assert [a["id"] for a in store.list_approvals(agent="other")] == [denied["id"]]
    assert len(store.list_approvals()) == 3
    with pytest.raises(UsageError):
        store.list_approvals(status="maybe")


def test_bad_requests(store: Store) -> None:
    with pytest.raises(ApprovalNotFound):
        store.resolve_approval("apr-nope", "approved", by="alice")
    request = store.create_approval("acme", "bot", ACTION, decision())
    with pytest.raises(UsageError):
        store.resolve_approval(request["id"], "expired", by="alice")
    with pytest.raises(UsageError):
        store.resolve_approval(request["id"], "approved", by=" ")
    with pytest.raises(StoreError, match="only a require_approval"):
        store.create_approval("acme", "bot", ACTION, {"decision": "block"})
