"""Approval requests in the store, on both backends: routing kept from the decision,
approve/deny only by a listed approver or admin (never the agent) with who and when,
expiry to the route's fallback (with an injected clock), and one redemption of an
approval by the very action it was asked for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from policypacks.errors import EXIT_BAD_INPUT, UsageError
from policypacks.runtime.store import (
    ApprovalAlreadyResolved,
    ApprovalNotFound,
    ApprovalNotRedeemable,
    ApprovalRefused,
    Store,
    StoreError,
)

NOW = datetime(2024, 5, 15, 10, 0, tzinfo=UTC)
ACTION = {"type": "refund", "amount": 80, "content": {"text": "sorry about that"}}


def decision(fallback: str = "block", timeout: int = 3600,
             admins: list[str] | None = None) -> dict[str, Any]:
    route: dict[str, Any] = {"approvers": ["finance"], "timeout_seconds": timeout,
                             "fallback": fallback, "route": "caps/refunds"}
    if admins is not None:
        route["admins"] = admins
    return {"decision": "require_approval", "allow": False, "revision": "r1",
            "violations": [{"pack": "caps", "rule": "big-refund",
                            "enforcement": "require_approval", "message": "over 50"}],
            "approval": route}


@pytest.fixture
def clock() -> list[datetime]:
    return [NOW]


@pytest.fixture
def store(new_store: Callable[..., Store], clock: list[datetime]) -> Store:
    return new_store(clock=lambda: clock[0])


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
    assert request["action"]["amount"] == 80  # structured fields stay readable
    assert request["digest"].startswith("sha256:") and request["admins"] == []
    assert request["violations"][0]["rule"] == "big-refund"
    assert store.get_approval(request["id"]) == request
    assert store.get_approval("apr-nope") is None


@pytest.mark.parametrize(("status", "outcome"), [("approved", "allow"), ("denied", "block")])
def test_approve_and_deny_record_who_and_when(store: Store, clock: list[datetime],
                                              status: str, outcome: str) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision())
    clock[0] = NOW + timedelta(minutes=5)
    resolved = store.resolve_approval(request["id"], status, by="finance")
    assert resolved["status"] == status and resolved["outcome"] == outcome
    assert resolved["resolved_by"] == "finance"
    assert resolved["resolved_at"] == "2024-05-15T10:05:00.000000Z"
    with pytest.raises(ApprovalAlreadyResolved, match=f"already {status}"):
        store.resolve_approval(request["id"], "approved", by="finance")
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
        store.resolve_approval(request["id"], "approved", by="finance")


def test_listing_filters_by_status_and_expires_first(store: Store, clock: list[datetime]) -> None:
    short = store.create_approval("acme", "bot", ACTION, decision(timeout=10))
    long = store.create_approval("acme", "bot", ACTION, decision(timeout=1000))
    denied = store.create_approval("acme", "other", ACTION, decision())
    store.resolve_approval(denied["id"], "denied", by="finance")
    clock[0] = NOW + timedelta(seconds=30)
    assert [a["id"] for a in store.list_approvals(status="pending")] == [long["id"]]
    assert [a["id"] for a in store.list_approvals(status="expired")] == [short["id"]]
    assert [a["id"] for a in store.list_approvals(agent="other")] == [denied["id"]]
    assert len(store.list_approvals()) == 3
    with pytest.raises(UsageError):
        store.list_approvals(status="maybe")


def test_bad_requests(store: Store) -> None:
    with pytest.raises(ApprovalNotFound):
        store.resolve_approval("apr-nope", "approved", by="finance")
    request = store.create_approval("acme", "bot", ACTION, decision())
    with pytest.raises(UsageError):
        store.resolve_approval(request["id"], "expired", by="finance")
    with pytest.raises(UsageError):
        store.resolve_approval(request["id"], "approved", by=" ")
    with pytest.raises(StoreError, match="only a require_approval"):
        store.create_approval("acme", "bot", ACTION, {"decision": "block"})


# -- who may resolve ---------------------------------------------------------------------

@pytest.mark.parametrize(("who", "allowed"), [
    ("finance", True),          # a listed approver
    ("cfo", True),              # an admin the identity names
    (" finance ", True),        # names are compared trimmed
    ("random-intern", False),   # anyone else
    ("Finance", False),         # names are exact
    ("bot", False),             # the requesting agent itself
])
@pytest.mark.parametrize("status", ["approved", "denied"])
def test_only_approvers_and_admins_resolve(store: Store, who: str, allowed: bool,
                                           status: str) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision(admins=["cfo"]))
    if allowed:
        assert store.resolve_approval(request["id"], status, by=who)["resolved_by"] == \
            who.strip()
        return
    with pytest.raises(ApprovalRefused) as refused:
        store.resolve_approval(request["id"], status, by=who)
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert store.get_approval(request["id"])["status"] == "pending"  # type: ignore[index]


def test_the_agent_is_refused_even_when_listed_as_approver(store: Store) -> None:
    routed = decision()
    routed["approval"]["approvers"] = ["bot", "finance"]
    request = store.create_approval("acme", "bot", ACTION, routed)
    with pytest.raises(ApprovalRefused, match="the agent that asked"):
        store.resolve_approval(request["id"], "approved", by="bot")


def test_a_route_without_approvers_waits_for_its_fallback(store: Store) -> None:
    routed = decision()
    routed["approval"]["approvers"] = []
    request = store.create_approval("acme", "bot", ACTION, routed)
    with pytest.raises(ApprovalRefused, match="nobody may"):
        store.resolve_approval(request["id"], "approved", by="finance")


# -- one redemption, of that action, in time ----------------------------------------------

def redeem(store: Store, approval_id: str, action: dict[str, Any] = ACTION,
           agent: str = "bot") -> dict[str, Any]:
    return store.locked("acme", agent, lambda tx: store.redeem_approval(
        tx, approval_id, "acme", agent, action, "d-redeem"))


def test_an_approval_is_redeemed_once(store: Store) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision())
    store.resolve_approval(request["id"], "approved", by="finance")
    used = redeem(store, request["id"])
    assert used["redeemed_at"] == "2024-05-15T10:00:00.000000Z"
    assert store.get_approval(request["id"])["redeemed_decision"] == "d-redeem"  # type: ignore[index]
    with pytest.raises(ApprovalNotRedeemable, match="already used"):
        redeem(store, request["id"])


@pytest.mark.parametrize(("case", "reason"), [
    ("pending", "is pending"),
    ("denied", "is denied"),
    ("other action", "another action"),
    ("other agent", "was asked by acme/bot"),
    ("late", "could be used until"),
    ("expired to block", "is expired"),
    ("unknown", "no approval request"),
])
def test_an_approval_that_does_not_admit(store: Store, clock: list[datetime], case: str,
                                         reason: str) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision(timeout=60))
    approval_id, action, agent = request["id"], ACTION, "bot"
    if case in ("denied",):
        store.resolve_approval(approval_id, "denied", by="finance")
    elif case in ("other action", "other agent", "late"):
        store.resolve_approval(approval_id, "approved", by="finance")
    if case == "other action":
        action = {**ACTION, "amount": 81}
    elif case == "other agent":
        agent = "other-bot"
    elif case in ("late", "expired to block"):
        clock[0] = NOW + timedelta(seconds=60)
    elif case == "unknown":
        approval_id = "apr-nope"
    with pytest.raises(ApprovalNotRedeemable, match=reason):
        redeem(store, approval_id, action, agent)


def test_an_expired_request_with_fallback_allow_is_redeemable_once(
        store: Store, clock: list[datetime]) -> None:
    request = store.create_approval("acme", "bot", ACTION, decision("allow", timeout=60))
    clock[0] = NOW + timedelta(seconds=90)
    assert redeem(store, request["id"])["outcome"] == "allow"
    with pytest.raises(ApprovalNotRedeemable, match="already used"):
        redeem(store, request["id"])
    late = store.create_approval("acme", "bot", ACTION, decision("allow", timeout=60))
    clock[0] += timedelta(seconds=120)
    with pytest.raises(ApprovalNotRedeemable, match="could be used until"):
        redeem(store, late["id"])


def test_the_digest_ignores_how_a_number_is_written(store: Store) -> None:
    from decimal import Decimal
    request = store.create_approval("acme", "bot", ACTION, decision())
    store.resolve_approval(request["id"], "approved", by="finance")
    assert redeem(store, request["id"], {**ACTION, "amount": Decimal("80.00")})


@pytest.mark.parametrize(("admins", "valid"), [
    (["cfo", "ops-lead"], True),
    ([], True),
    ("cfo", False),        # a list, not a name
    ([""], False),         # names are not empty
    ([3], False),
])
def test_identity_escalation_admins_are_validated(tmp_path: Any, admins: Any,
                                                  valid: bool) -> None:
    from support import agent, identity, write_repo

    from policypacks.errors import ValidationFailed
    from policypacks.pipeline import compile_path
    root = write_repo(tmp_path / "repo", [
        identity("acme", escalation={"approvers": ["finance"], "admins": admins}),
        agent("bot")])
    if valid:
        data = compile_path(root, "r")[1]
        assert data is not None
        return
    with pytest.raises(ValidationFailed) as failed:
        compile_path(root, "r")
    assert any("admins" in line for line in failed.value.lines()), failed.value.lines()
